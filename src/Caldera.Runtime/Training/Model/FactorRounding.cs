using Caldera.Runtime.Compression;

namespace Caldera.Runtime.Training.Model;

/// <summary>
/// The nearest E8P codewords to a row of any length (the compiler's exact search, <c>E8PCodebook.QuantizeRow</c>):
/// writes them to <paramref name="nearest"/>, the length of <paramref name="x"/>.
/// </summary>
internal delegate void E8PNearestRow(ReadOnlySpan<float> x, Span<float> nearest);

/// <summary>
/// The trained ranks of one factor (Lᵀ or R, r×n) as <c>caldera adapter merge</c> stores them, for quantisation-aware
/// training. 4-bit factors keep each 8-vector's first-stage word q₁ from the base model and round the rest to the
/// nearest second-stage codeword, at the factor's scale s:
///   x̂ = s·(q₁ + NN(ρ·(x/s − q₁))/ρ),   ρ = <see cref="E8PResidualLattice.ResidualScale"/>.
/// 16-bit factors round to the nearest half.
/// </summary>
/// <remarks>
/// Keeping q₁ makes the rounding exact where nothing moved (x̂ = x at the base values, so step 0 runs the base model)
/// and makes x̂ a fixed point of the merge's rounding, which tries the same q₁ first: the merged file decodes to the
/// trained x̂ exactly. Re-rounding both stages from scratch is neither: on tinystories-256d's rank-16 factors it moves
/// the untouched base values by 3.6 % of their norm, while distillation moves them by 1–2.5 %. A second-stage step is
/// √2/ρ ≈ 0.41 in grid units, so the trained values move in those steps or not at all; the latent values the optimizer
/// updates carry the gradient (straight through) until they cross a boundary.
/// </remarks>
internal sealed class FactorRounding
{
    private readonly float _scale;
    private readonly float[]? _first;
    private readonly E8PNearestRow? _nearest;
    private readonly int _rows, _columns;
    private readonly float[] _residual, _second;

    private FactorRounding(int rows, int columns, float scale, float[]? first, E8PNearestRow? nearest)
    {
        (_rows, _columns, _scale, _first, _nearest) = (rows, columns, scale, first, nearest);
        (_residual, _second) = first is null ? ([], []) : (new float[columns], new float[columns]);
    }

    /// <summary>Ranks 0..<paramref name="rank"/>−1 of Lᵀ (<paramref name="lTransposed"/>) or R of <paramref name="data"/>.</summary>
    public static FactorRounding For(CompressedLinearData data, bool lTransposed, int rank, E8PNearestRow nearest)
    {
        int n = lTransposed ? data.Rows : data.Columns;
        if (data.FactorBits != 4) return new FactorRounding(rank, n, 1f, null, null);
        var codes = (lTransposed ? data.LTransposedCodes : data.RCodes).Span;
        int words = E8PResidualLattice.WordCount(n), vectors = E8PLattice.VectorCount(n);
        var first = new float[rank * n];
        Span<float> y8 = stackalloc float[E8PLattice.Dimension];
        for (int j = 0; j < rank; j++)
            for (int v = 0; v < vectors; v++)
            {
                int start = v * E8PLattice.Dimension, length = Math.Min(E8PLattice.Dimension, n - start);
                E8PLattice.Decode(codes[j * words + E8PResidualLattice.WordsPerVector * v], y8);
                y8[..length].CopyTo(first.AsSpan(j * n + start, length));
            }
        return new FactorRounding(rank, n, lTransposed ? data.LTransposedScale : data.RScale, first, nearest);
    }

    /// <summary>x̂ of every row of <paramref name="latent"/> (r×n) into <paramref name="rounded"/>.</summary>
    public void Round(ReadOnlySpan<float> latent, Span<float> rounded)
    {
        int n = _columns;
        if (_first is null)
        {
            for (int i = 0; i < _rows * n; i++) rounded[i] = (float)(Half)latent[i];
            return;
        }
        float[] residual = _residual, second = _second;
        for (int j = 0; j < _rows; j++)
        {
            var first = _first.AsSpan(j * n, n);
            var x = latent.Slice(j * n, n);
            // An all-zero factor has s = 0: its ranks stay zero.
            for (int i = 0; i < n; i++) residual[i] = E8PResidualLattice.ResidualScale * ((_scale > 0 ? x[i] / _scale : 0f) - first[i]);
            _nearest!(residual, second);
            var y = rounded.Slice(j * n, n);
            E8PResidualLattice.Combine(first, second, y);
            for (int i = 0; i < n; i++) y[i] *= _scale;
        }
    }
}
