namespace Caldera.Compiler.LinearAlgebra;

/// <summary>
/// Exact SVD of a low-rank product P = L·R (L m×k, R k×n, k ≤ min(m, n)) without forming P: L = Q_L·R_L and
/// Rᵀ = Q_R·R_R (thin QR), so P = Q_L·(R_L·R_Rᵀ)·Q_Rᵀ; the k×k core's SVD Ũ·Σ·Ṽᵀ gives U = Q_L·Ũ, V = Q_R·Ṽ.
/// O((m + n)·k²) instead of O(m·n·k): the Hessian downdate's top-k right singular vectors of L·R·M.
/// </summary>
internal static class LowRankSvd
{
    public static SingularValueDecomposition Decompose(Matrix<double> l, Matrix<double> r, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(l);
        ArgumentNullException.ThrowIfNull(r);
        if (l.Cols != r.Rows)
        {
            throw new ArgumentException($"L·R needs L's columns to match R's rows, got {l.Rows}×{l.Cols} and {r.Rows}×{r.Cols}.");
        }

        int k = l.Cols;
        if (k > Math.Min(l.Rows, r.Cols))
        {
            // The product's rank is at most min(m, n) < k: factoring the dense product is no more expensive.
            return ThinSvd.Decompose(Gemm.Multiply(l, r, threads), threads);
        }

        (Matrix<double> qL, Matrix<double> rL) = HouseholderQr.Decompose(l, threads);
        (Matrix<double> qR, Matrix<double> rR) = HouseholderQr.Decompose(r.Transpose(), threads);
        SingularValueDecomposition core = ThinSvd.Decompose(Gemm.Multiply(Op.N, rL, Op.T, rR, threads), threads);
        return new SingularValueDecomposition(
            Gemm.Multiply(qL, core.U, threads), core.S, Gemm.Multiply(qR, core.V, threads));
    }
}
