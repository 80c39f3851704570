using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Compiler.Decomposition;

/// <summary>
/// The Hessian the Q-update rounds against once L·R is known. With M = chol(H), the directions
/// M·V_k, V_k the top-k right singular vectors of L·R·M, are the input directions L·R already serves; the
/// LR-update that follows will re-fit them, so BlockLDLQ should not spend its error budget there:
/// H_q = H − M·V_k·V_kᵀ·Mᵀ. Removing them can leave H_q indefinite in floating point, so it is shifted by
/// (0.01 + max(−λ_min, 0))·I and then by 0.01·|mean diag|·I (the authors' safeguards). <see cref="QUpdateHessian"/>
/// produces H_q a panel of rows at a time from the pieces here.
/// </summary>
/// <remarks>
/// H_q = M·(I − V_k·V_kᵀ)·Mᵀ is positive semidefinite with k zero eigenvalues in exact arithmetic, so the computed
/// H_q's λ_min is zero up to the rounding of M, V_k and the product, which <see cref="RoundingBound"/> bounds; that
/// bound stands in for −λ_min. (A Lanczos estimate of λ_min, which this replaces, streamed H_q 200 times per
/// downdate, two thirds of the step, to find θ ≈ 10⁻¹⁴ with a residual of 10⁻⁷, both far below the 0.01 shift.)
/// </remarks>
internal static class HessianDowndate
{
    private const double Shift = 0.01;

    /// <summary>The unit roundoff of fp64, 2⁻⁵³.</summary>
    private const double UnitRoundoff = 1.1102230246251565e-16;

    /// <summary>Rows of M widened per GEMM in <see cref="Directions"/>: 256 rows of fp64 (29 MB at n = 14336).</summary>
    private const int PanelRows = 256;

    /// <summary>M·V_k (n×k), the directions H_q removes, and V_k (n×k), the top-k right singular vectors of L·R·M.</summary>
    /// <remarks>
    /// M is packed as a triangle (4·n² bytes of fp64, half of it dense); M·V_k runs as GEMMs over panels of M's rows
    /// copied out dense, each element the value one dense M·V_k gives (a GEMM computes each element alike wherever
    /// it lies in C), and R·M is <see cref="PackedLowerTriangular{T}.MultiplyRight(Matrix{T}, int)"/>, bitwise the dense product.
    /// </remarks>
    internal static (Matrix<double> MV, Matrix<double> V) Directions(PackedLowerTriangular<double> cholesky, LowRankFactors factors, int threads)
    {
        int n = cholesky.N;
        var rm = cholesky.MultiplyRight(factors.R.Convert<double>(), threads);   // R·M, k×n
        var svd = LowRankSvd.Decompose(factors.L.Convert<double>(), rm, threads); // of L·(R·M)
        int k = svd.V.Cols;
        var mv = new Matrix<double>(n, k);
        var panel = new double[(long)Math.Min(PanelRows, n) * n];
        for (int i0 = 0; i0 < n; i0 += PanelRows)
        {
            int rows = Math.Min(PanelRows, n - i0);
            for (int r = 0; r < rows; r++) cholesky.CopyRow(i0 + r, panel.AsSpan(r * n, n));
            Gemm.Multiply(Op.N, Op.N, rows, k, n, 1.0, panel, n, svd.V.Data, k, 0.0, mv.Data.AsSpan(i0 * k), k, threads);
        }
        return (mv, svd.V);
    }

    /// <summary>The first safeguard shift of H_q's diagonal, added to every H_q[i, i]: 0.01 + the rounding bound.</summary>
    internal static double FirstShift(PackedLowerTriangular<double> cholesky, Matrix<double> v, int threads) => Shift + RoundingBound(cholesky, v, threads);

    /// <summary>The second, added after the first: 0.01·|mean diagonal| of H_q after the first (<paramref name="trace"/> is its trace).</summary>
    internal static double SecondShift(double trace, int n) => Shift * Math.Abs(trace / n);

    /// <summary>H − M·V_k·V_kᵀ·Mᵀ before any shift, whole, and V_k (n×k).</summary>
    internal static (Matrix<double> Hq, Matrix<double> V) Downdated(Matrix<double> h, PackedLowerTriangular<double> cholesky, LowRankFactors factors, int threads)
    {
        var hq = h.Clone();
        var (mv, v) = Directions(cholesky, factors, threads);
        Gemm.Multiply(Op.N, mv, Op.T, mv, -1.0, 1.0, hq, threads);
        return (hq, v);
    }

    /// <summary>
    /// A bound on −λ_min of the computed H − fl(W·Wᵀ), W = fl(M·V_k), M the computed chol(H) (n×n), V_k n×k, with
    /// γ_j = j·u/(1 − j·u) and ‖·‖₂ ≤ ‖·‖_F throughout, to first order in u:
    /// <list type="bullet">
    /// <item>M·Mᵀ = H + ΔH with ‖ΔH‖₂ ≤ γ_{n+1}·‖M‖²_F (Cholesky's backward error, |ΔH| ≤ γ_{n+1}·|M|·|M|ᵀ);</item>
    /// <item>M·(I − V_k·V_kᵀ)·Mᵀ ≥ −δ·‖M‖²_F with δ = ‖V_kᵀ·V_k − I‖_F (V_k·V_kᵀ's eigenvalues are V_kᵀ·V_k's);</item>
    /// <item>W = M·V_k + ΔW with ‖ΔW‖_F ≤ γ_n·‖M‖_F·√k, which moves W·Wᵀ by at most (2 + δ)·γ_n·√k·‖M‖²_F;</item>
    /// <item>the product and the subtraction round each element once per term: γ_{k+1}·(‖H‖_F + ‖W‖²_F) ≤ 2·γ_{k+1}·(1 + δ)·‖M‖²_F.</item>
    /// </list>
    /// </summary>
    internal static double RoundingBound(PackedLowerTriangular<double> cholesky, Matrix<double> v, int threads)
    {
        int n = cholesky.N, k = v.Cols;
        var gram = Gemm.Multiply(Op.T, v, Op.N, v, threads);
        double orthogonality = 0;
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++)
            {
                double d = gram[i, j] - (i == j ? 1 : 0);
                orthogonality += d * d;
            }
        double delta = Math.Sqrt(orthogonality);
        double frobeniusSquared = 0;
        var row = new double[n];
        for (int i = 0; i < n; i++)
        {
            cholesky.CopyRow(i, row);
            foreach (double x in row) frobeniusSquared += x * x;
        }
        frobeniusSquared *= 1 + Gamma(n * n);
        double factor = Gamma(n + 1) + delta + (2 + delta) * Gamma(n) * Math.Sqrt(k) + 2 * Gamma(k + 1) * (1 + delta);
        return factor * frobeniusSquared;
    }

    private static double Gamma(double j) => j * UnitRoundoff / (1 - j * UnitRoundoff);
}
