using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Compiler.Pipeline;

/// <summary>
/// The top squared singular values of W·H^½, W's activation-weighted spectrum: the error measure the decomposition
/// minimises, tr(Δ·H·Δᵀ), read on W itself (Σ σᵢ² = tr(W·H·Wᵀ)). With a Cholesky factor
/// H = C·Cᵀ, W·C has the singular values of W·H^½ (C = H^½·U for an orthogonal U), so no matrix square root is taken.
/// </summary>
/// <remarks>
/// Why it says what a rank is worth: CALDERA's factors take the directions of W·H^½ with the largest singular values, and
/// the 2-bit Q rounds what they leave with about the same relative error δ whatever its scale, so the error at rank k is
/// about δ·Σ_{i&gt;k} σᵢ² and the (k+1)-th rank removes about δ·σ²_{k+1}. Randomized SVD with four power iterations
/// (O(m·n·ℓ) after the O(m·n²) product W·C), seeded, so a rerun allocates the same ranks.
/// </remarks>
internal sealed record WeightedSpectrum(double[] Squares)
{
    private const int Oversampling = 8;
    private const int PowerIterations = 4;
    private const ulong Seed = 0x5bec7;

    /// <param name="w">W, m×n.</param>
    /// <param name="h">H of W's inputs, n×n, regularized as the decomposition reads it (positive definite).</param>
    /// <param name="count">How many of the largest σᵢ² to return (at most min(m, n)).</param>
    public static WeightedSpectrum Of(Matrix<float> w, Matrix<float> h, int count, int threads)
    {
        if (h.Rows != w.Cols || h.Cols != w.Cols)
            throw new ArgumentException($"the Hessian is {h.Rows}×{h.Cols}; W has {w.Cols} columns.", nameof(h));
        count = Math.Min(count, Math.Min(w.Rows, w.Cols));
        if (!Cholesky.TryFactor(h.Convert<double>(), out var c, threads))
            throw new ArgumentException("the regularized Hessian is not positive definite.", nameof(h));
        var weighted = Gemm.Multiply(w.Convert<double>(), c, threads);
        if (count < 1 || weighted.Data.All(x => x == 0)) return new WeightedSpectrum([]);
        var svd = RandomizedSvd.Decompose(weighted, count, Oversampling, PowerIterations, Seed, threads);
        return new WeightedSpectrum([.. svd.S.Take(count).Select(s => s * s)]);
    }
}
