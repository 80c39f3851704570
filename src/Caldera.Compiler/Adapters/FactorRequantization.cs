using Caldera.Compiler.Quantizers;
using Caldera.Runtime.Compression;

namespace Caldera.Compiler.Adapters;

/// <summary>
/// Rounds trained ranks of a 4-bit factor back to residual E8P words at the factor's scale s, each 8-vector x (in grid
/// units y = x/s) to the better of two code pairs:
///   keep: the base word q₁ and q₂ = NN(ρ·(y − q₁)), the rounding quantisation-aware training runs on
///         (<see cref="Runtime.Training.Model.FactorRounding"/>);
///   anew: the greedy pair, q₁ = NN(y), q₂ = NN(ρ·(y − q₁)), for vectors that moved beyond q₁'s reach.
/// Ties keep. Rounding the base values gives the base words back, and rounding what quantisation-aware training
/// trained gives exactly its values; rounding anew alone does neither (it is not idempotent: on tinystories-256d's
/// rank-16 factors it moves the untouched base values by 3.6 % of their norm).
/// </summary>
internal static class FactorRequantization
{
    /// <summary>The nearest E8P codewords to a row (<see cref="E8PCodebook.QuantizeRow"/> without the words).</summary>
    public static void Nearest(ReadOnlySpan<float> x, Span<float> nearest)
    {
        var words = new ushort[E8PCodebook.VectorCount(x.Length)];
        E8PCodebook.QuantizeRow(x, nearest, words);
    }

    /// <summary>
    /// <paramref name="words"/> (k rows of <see cref="E8PResidualLattice.WordCount"/>(n) words) with rows 0..r−1 replaced by
    /// the rounding of <paramref name="values"/> (r×n) at <paramref name="scale"/>.
    /// </summary>
    public static ushort[] Requantize(ReadOnlyMemory<ushort> words, float[] values, int r, int n, float scale)
    {
        var result = words.ToArray();
        int rowWords = E8PResidualLattice.WordCount(n), vectors = E8PCodebook.VectorCount(n), d = E8PCodebook.Dimension;
        float[] y = new float[n], first = new float[n], residual = new float[n], second = new float[n], kept = new float[n], anew = new float[n];
        ushort[] secondWords = new ushort[vectors], anewWords = new ushort[rowWords];
        Span<float> y8 = stackalloc float[d];
        for (int j = 0; j < r; j++)
        {
            var row = result.AsSpan(j * rowWords, rowWords);
            for (int v = 0; v < vectors; v++)
            {
                int start = v * d, length = Math.Min(d, n - start);
                E8PCodebook.Decode(row[2 * v], y8);
                y8[..length].CopyTo(first.AsSpan(start, length));
            }
            for (int i = 0; i < n; i++)
            {
                // An all-zero factor has s = 0 and rounds to zeros, as the compressor stores it.
                y[i] = scale > 0 ? values[j * n + i] / scale : 0f;
                residual[i] = E8PResidualLattice.ResidualScale * (y[i] - first[i]);
            }
            E8PCodebook.QuantizeRow(residual, second, secondWords);
            E8PResidualLattice.Combine(first, second, kept);
            E8PResidualCode.QuantizeRow(y, anew, anewWords);
            for (int v = 0; v < vectors; v++)
            {
                int start = v * d, length = Math.Min(d, n - start);
                if (SquaredError(y, kept, start, length) <= SquaredError(y, anew, start, length)) row[2 * v + 1] = secondWords[v];
                else (row[2 * v], row[2 * v + 1]) = (anewWords[2 * v], anewWords[2 * v + 1]);
            }
        }
        return result;
    }

    private static double SquaredError(float[] y, float[] q, int start, int length)
    {
        double sum = 0;
        for (int i = start; i < start + length; i++) sum += (double)(y[i] - q[i]) * (y[i] - q[i]);
        return sum;
    }
}
