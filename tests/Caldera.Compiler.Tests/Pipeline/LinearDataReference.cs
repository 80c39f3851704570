using Caldera.Compiler.Quantizers;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Incoherence;

namespace Caldera.Compiler.Tests.Pipeline;

/// <summary>
/// y = Ŵ·x computed from a <see cref="CompressedLinearData"/> exactly as its documentation defines it, in fp64
/// with dense transforms: u = U_nᵀ(SU ⊙ x), z = Q·u + L·(R·u), y = g·SV ⊙ (V_m·z), with
/// U_n = A ⊗ H_P/√P (H_P Sylvester, A the stored or rebuilt block). Independent of the runtime's fast paths.
/// </summary>
internal static class LinearDataReference
{
    public static double[] Apply(CompressedLinearData m, ReadOnlySpan<float> x)
    {
        int rows = m.Rows, cols = m.Columns;
        var u = new double[cols];
        for (int i = 0; i < cols; i++) u[i] = x[i];
        if (m.InputTransform is { } input) u = TransposeApply(Dense(input), Signed(input, u));

        var z = new double[rows];
        var row = new float[Math.Max(rows, cols)];
        for (int r = 0; r < rows; r++)
        {
            DecodeQRow(m, r, row);
            for (int j = 0; j < cols; j++) z[r] += (double)m.QScale * row[j] * u[j];
        }
        int k = m.Rank;
        if (k > 0)
        {
            var t = new double[k];
            for (int r = 0; r < k; r++)
                for (int j = 0; j < cols; j++) t[r] += FactorR(m, r, j, row, cols) * u[j];
            for (int r = 0; r < k; r++)
            {
                var lColumn = FactorLColumn(m, r);
                for (int i = 0; i < rows; i++) z[i] += lColumn[i] * t[r];
            }
        }

        if (m.OutputTransform is { } output)
        {
            var v = Dense(output);
            var y = new double[rows];
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < rows; j++) y[i] += v[i, j] * z[j];
            z = Signed(output, y);
        }
        for (int i = 0; i < rows; i++) z[i] *= m.GlobalScale;
        return z;
    }

    private static void DecodeQRow(CompressedLinearData m, int r, float[] row)
    {
        var words = m.QCodes.Span.Slice(r * m.QWordsPerRow, m.QWordsPerRow);
        if (m.QKind == QCodeKind.E8P) E8PCodebook.DecodeRow(words, row.AsSpan(0, m.Columns));
        else
        {
            int level = (1 << (m.QBits - 1)) - 1;
            for (int j = 0; j < m.Columns; j++) row[j] = words[j] - level;
        }
    }

    private static double FactorR(CompressedLinearData m, int r, int j, float[] scratch, int cols)
    {
        if (m.FactorBits == 16) return (double)m.R.Span[r * cols + j];
        int words = (cols + 7) / 8 * 2;
        E8PResidualCode.DecodeRow(m.RCodes.Span.Slice(r * words, words), scratch.AsSpan(0, cols));
        return (double)m.RScale * scratch[j];
    }

    private static double[] FactorLColumn(CompressedLinearData m, int r)
    {
        var column = new double[m.Rows];
        if (m.FactorBits == 16)
        {
            for (int i = 0; i < m.Rows; i++) column[i] = (double)m.L.Span[i * m.Rank + r];
            return column;
        }
        int words = (m.Rows + 7) / 8 * 2;
        var decoded = new float[m.Rows];
        E8PResidualCode.DecodeRow(m.LTransposedCodes.Span.Slice(r * words, words), decoded);
        for (int i = 0; i < m.Rows; i++) column[i] = (double)m.LTransposedScale * decoded[i];
        return column;
    }

    private static double[] Signed(TransformData t, double[] x)
    {
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = t.Signs.Span[i] * x[i];
        return y;
    }

    private static double[] TransposeApply(double[,] u, double[] x)
    {
        int n = x.Length;
        var y = new double[n];
        for (int j = 0; j < n; j++)
            for (int i = 0; i < n; i++) y[j] += u[i, j] * x[i];
        return y;
    }

    /// <summary>U_n = A ⊗ H_P/√P as a dense matrix.</summary>
    private static double[,] Dense(TransformData t)
    {
        int n = t.Length, k = t.BlockOrder, p = n / k;
        float[] block = t.IsHadamard ? HadamardTransform.Create(n, 0).Block.ToArray() : t.FallbackBlock.ToArray();
        Assert.Equal(k * k, block.Length);
        var u = new double[n, n];
        for (int a = 0; a < k; a++)
            for (int b = 0; b < p; b++)
                for (int c = 0; c < k; c++)
                    for (int d = 0; d < p; d++)
                        u[a * p + b, c * p + d] = block[a * k + c] * (System.Numerics.BitOperations.PopCount((uint)(b & d)) % 2 == 0 ? 1 : -1) / Math.Sqrt(p);
        return u;
    }
}
