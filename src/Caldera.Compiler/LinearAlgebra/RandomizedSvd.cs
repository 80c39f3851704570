namespace Caldera.Compiler.LinearAlgebra;

/// <summary>
/// Randomized truncated SVD (Halko–Martinsson–Tropp) of a large m×n matrix: sketch Y = A·Ω with a seeded
/// Gaussian Ω (n×ℓ, ℓ = k + oversampling), sharpen with q power iterations Y = A·(Aᵀ·Y) (re-orthonormalised each
/// half step so small singular values survive), then Q = orth(Y), B = Qᵀ·A (ℓ×n), SVD B = Ũ·Σ·Vᵀ and U = Q·Ũ.
/// Costs O(m·n·ℓ·(2q + 2)) in DGEMM; error decays like (σ_{k+1}/σ_k)^{2q+1}.
/// </summary>
public static class RandomizedSvd
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

    private static Matrix<double> Orthonormalize(Matrix<double> y, int threads) => HouseholderQr.Decompose(y, threads).Q;
}
