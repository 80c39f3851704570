namespace Caldera.Compiler.LinearAlgebra;

/// <summary>
/// Randomized truncated SVD (Halko–Martinsson–Tropp) of a large m×n matrix: sketch Y = A·Ω with a seeded
/// Gaussian Ω (n×ℓ, ℓ = k + oversampling), sharpen with q power iterations Y = A·(Aᵀ·Y) (re-orthonormalised each
/// half step so small singular values survive), then Q = orth(Y), B = Qᵀ·A (ℓ×n), SVD B = Ũ·Σ·Vᵀ and U = Q·Ũ.
/// Costs O(m·n·ℓ·(2q + 2)) in DGEMM; error decays like (σ_{k+1}/σ_k)^{2q+1}.
/// </summary>
internal static class RandomizedSvd
{
    public static SingularValueDecomposition Decompose(
        Matrix<double> a, int rank, int oversampling = 10, int powerIterations = 2, ulong seed = 42, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentOutOfRangeException.ThrowIfLessThan(rank, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(oversampling);
        ArgumentOutOfRangeException.ThrowIfNegative(powerIterations);
        int m = a.Rows;
        int n = a.Cols;
        int sketch = Math.Min(rank + oversampling, Math.Min(m, n));
        if (rank > Math.Min(m, n))
        {
            throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} exceeds min({m}, {n}).");
        }

        Matrix<double> omega = new GaussianRandom(seed).NextMatrix(n, sketch);
        Matrix<double> q = Orthonormalize(Gemm.Multiply(a, omega, threads), threads);
        for (int i = 0; i < powerIterations; i++)
        {
            Matrix<double> z = Orthonormalize(Gemm.Multiply(Op.T, a, Op.N, q, threads), threads);
            q = Orthonormalize(Gemm.Multiply(a, z, threads), threads);
        }

        Matrix<double> b = Gemm.Multiply(Op.T, q, Op.N, a, threads);
        SingularValueDecomposition small = ThinSvd.Decompose(b, threads);
        var full = new SingularValueDecomposition(Gemm.Multiply(q, small.U, threads), small.S, small.V);
        return full.Truncate(rank);
    }

    /// <summary>
    /// After two passes of CholeskyQR, ‖QᵀQ − I‖ is O(u) for any sketch with κ(Y) ≲ u^(−½) ≈ 10⁸ (Yamamoto et al.,
    /// 2015); a larger deviation means Y was worse conditioned than that.
    /// </summary>
    private const double OrthogonalityTolerance = 1e-10;

    /// <summary>
    /// An orthonormal basis of Y's columns (m×ℓ, m ≫ ℓ) by CholeskyQR2: Q = Y·C⁻ᵀ with C·Cᵀ = YᵀY, twice, so its cost
    /// is two ℓ×ℓ Gram products and two m×ℓ×ℓ products, all GEMMs, where Householder QR is m·ℓ² BLAS-2 work. A sketch
    /// too ill-conditioned for it (rank-deficient, or κ ≳ 10⁸: its Gram matrix is not positive definite, or the
    /// result is visibly not orthonormal) falls back to Householder QR.
    /// </summary>
    internal static Matrix<double> Orthonormalize(Matrix<double> y, int threads)
    {
        var q = y;
        for (int pass = 0; pass < 2; pass++)
        {
            var gram = Gemm.Multiply(Op.T, q, Op.N, q, threads);
            if (!Cholesky.TryFactor(gram, out var c, threads))
            {
                return HouseholderQr.Decompose(y, threads).Q;
            }

            var inverse = Matrix<double>.Identity(c.Rows);
            TriangularSolve.SolveLower(c, inverse, threads: threads);
            q = Gemm.Multiply(Op.N, q, Op.T, inverse, threads);
        }

        var check = Gemm.Multiply(Op.T, q, Op.N, q, threads);
        for (int i = 0; i < check.Rows; i++)
        {
            for (int j = 0; j < check.Cols; j++)
            {
                if (!(Math.Abs(check[i, j] - (i == j ? 1 : 0)) <= OrthogonalityTolerance))
                {
                    return HouseholderQr.Decompose(y, threads).Q;
                }
            }
        }

        return q;
    }
}
