using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Compiler.Decomposition;

/// <summary>
/// The Hessian the Q-update rounds against once L·R is known. With M = chol(H), the directions
/// M·V_k, V_k the top-k right singular vectors of L·R·M, are the input directions L·R already serves; the
/// LR-update that follows will re-fit them, so BlockLDLQ should not spend its error budget there:
/// H_q = H − M·V_k·V_kᵀ·Mᵀ. Removing them can leave H_q indefinite in floating point, so it is shifted by
/// (0.01 + max(−λ_min, 0))·I and then by 0.01·|mean diag|·I (the authors' safeguards).
/// </summary>
internal static class HessianDowndate
{
    private const double Shift = 0.01;

    public static Matrix<double> Apply(Matrix<double> h, Matrix<double> cholesky, LowRankFactors factors, int threads)
    {
        int n = h.Rows;
        var rm = Gemm.Multiply(Op.N, factors.R.Convert<double>(), Op.N, cholesky, threads);   // R·M, k×n
        var svd = LowRankSvd.Decompose(factors.L.Convert<double>(), rm, threads);             // of L·(R·M)
        var mv = Gemm.Multiply(Op.N, cholesky, Op.N, svd.V, threads);                            // M·V_k, n×k
        var hq = h.Clone();
        Gemm.Multiply(Op.N, mv, Op.T, mv, -1.0, 1.0, hq, threads);

        // Lanczos' smallest Ritz value converges from above; its residual bounds the gap to λ_min.
        var estimate = Lanczos.Smallest(hq, seed: 7, threads: threads);
        double lambdaMin = estimate.Value - estimate.ResidualNorm;
        double shift = Shift + Math.Max(-lambdaMin, 0);
        for (int i = 0; i < n; i++) hq[i, i] += shift;
        double trace = 0;
        for (int i = 0; i < n; i++) trace += hq[i, i];
        double second = Shift * Math.Abs(trace / n);
        for (int i = 0; i < n; i++) hq[i, i] += second;
        return hq;
    }
}
