using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Compiler.Tests.LinearAlgebra;

public class SvdTests
{
    // QR and Jacobi are backward stable: ‖A − U·Σ·Vᵀ‖ ≤ O(r·ε·‖A‖) and orthogonality O(r·ε). 64·r·ε is that with margin.
    private static double Tolerance(int r) => 64 * Math.Max(r, 1) * 2.2e-16;

    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 3)]
    [InlineData(3, 7)]
    [InlineData(200, 33)]
    [InlineData(40, 129)]
    [InlineData(64, 64)]
    public void Thin_SVD_reconstructs_with_orthonormal_factors(int m, int n)
    {
        Matrix<double> a = TestMatrices.Gaussian(m, n, m * 1000 + n);
        CheckSvd(a, ThinSvd.Decompose(a, threads: 2));
    }

    [Fact]
    public void Rank_deficient_input_gets_zero_singular_values_and_still_orthonormal_U()
    {
        Matrix<double> a = Gemm.Multiply(TestMatrices.Gaussian(50, 5, 1), TestMatrices.Gaussian(5, 20, 2));
        SingularValueDecomposition svd = ThinSvd.Decompose(a);
        CheckSvd(a, svd);
        Assert.True(svd.S[4] > 1e-3);
        Assert.All(svd.S[5..], s => Assert.True(s <= Tolerance(20) * svd.S[0]));
    }

    [Fact]
    public void Ill_conditioned_singular_values_are_accurate()
    {
        // A = Q1·diag(σ)·Q2ᵀ with σ from 1 to 1e-10: Jacobi keeps relative accuracy in the small ones to ≈ κ(R-scaled)·ε.
        int n = 30;
        double[] sigma = TestMatrices.LogSpaced(n, 1e10);
        Matrix<double> q1 = HouseholderQr.Decompose(TestMatrices.Gaussian(80, n, 3)).Q;
        Matrix<double> q2 = HouseholderQr.Decompose(TestMatrices.Gaussian(n, n, 4)).Q;
        Matrix<double> scaled = q1.Clone();
        for (int i = 0; i < scaled.Rows; i++)
        {
            for (int j = 0; j < n; j++)
            {
                scaled[i, j] *= sigma[j];
            }
        }

        Matrix<double> a = Gemm.Multiply(Op.N, scaled, Op.T, q2);
        SingularValueDecomposition svd = ThinSvd.Decompose(a);
        CheckSvd(a, svd);
        for (int i = 0; i < n; i++)
        {
            // Absolute accuracy ε·σ₁ is what any backward-stable SVD promises.
            Assert.True(Math.Abs(svd.S[i] - sigma[i]) <= Tolerance(n), $"σ{i} = {svd.S[i]}, expected {sigma[i]}");
        }
    }

    [Fact]
    public void Thin_SVD_is_bitwise_identical_for_one_and_two_threads()
    {
        Matrix<double> a = TestMatrices.Gaussian(300, 70, 5);
        SingularValueDecomposition one = ThinSvd.Decompose(a, threads: 1);
        SingularValueDecomposition two = ThinSvd.Decompose(a, threads: 2);
        Assert.True(TestMatrices.BitwiseEqual(one.U.Data, two.U.Data));
        Assert.True(TestMatrices.BitwiseEqual(one.S, two.S));
        Assert.True(TestMatrices.BitwiseEqual(one.V.Data, two.V.Data));
    }

    [Fact]
    public void Householder_QR_reconstructs_tall_matrix()
    {
        Matrix<double> a = TestMatrices.Gaussian(150, 40, 6);
        (Matrix<double> q, Matrix<double> r) = HouseholderQr.Decompose(a, threads: 2);
        Assert.True(TestMatrices.MaxAbsDifference(Gemm.Multiply(q, r), a) <= Tolerance(40) * TestMatrices.MaxAbs(a));
        Assert.True(TestMatrices.OrthogonalityError(q) <= Tolerance(40));
        for (int i = 0; i < r.Rows; i++)
        {
            for (int j = 0; j < i; j++)
            {
                Assert.Equal(0.0, r[i, j]);
            }
        }
    }

    [Fact]
    public void Randomized_SVD_matches_leading_triplets_of_exact_SVD()
    {
        // Decaying spectrum σ_i = 0.8^i: with 10 oversamples and 2 power iterations the error in the top 20 is
        // ~ (σ_31/σ_20)^5 ≈ 5e-6 relative, so 1e-6 of σ₁ on singular values and 1e-4 on subspaces is a real check.
        int m = 300, n = 200, k = 20;
        double[] sigma = Enumerable.Range(0, n).Select(i => Math.Pow(0.8, i)).ToArray();
        Matrix<double> u = HouseholderQr.Decompose(TestMatrices.Gaussian(m, n, 7)).Q;
        Matrix<double> v = HouseholderQr.Decompose(TestMatrices.Gaussian(n, n, 8)).Q;
        Matrix<double> us = u.Clone();
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                us[i, j] *= sigma[j];
            }
        }

        Matrix<double> a = Gemm.Multiply(Op.N, us, Op.T, v);
        SingularValueDecomposition svd = RandomizedSvd.Decompose(a, k, oversampling: 10, powerIterations: 2, seed: 3, threads: 2);
        Assert.Equal(k, svd.Rank);
        Assert.True(TestMatrices.OrthogonalityError(svd.U) <= Tolerance(k));
        Assert.True(TestMatrices.OrthogonalityError(svd.V) <= Tolerance(k));
        for (int i = 0; i < k; i++)
        {
            Assert.True(Math.Abs(svd.S[i] - sigma[i]) <= 1e-6, $"σ{i} = {svd.S[i]}, expected {sigma[i]}");
        }

        // Best rank-k error is σ_{k+1}; the randomized one must be within a hair of it.
        double best = sigma[k];
        double error = SpectralNormEstimate(Subtract(a, svd.Reconstruct()));
        Assert.True(error <= best * 1.01, $"‖A − A_k‖ = {error}, optimum {best}");

        SingularValueDecomposition again = RandomizedSvd.Decompose(a, k, oversampling: 10, powerIterations: 2, seed: 3, threads: 1);
        Assert.True(TestMatrices.BitwiseEqual(svd.S, again.S));
        Assert.True(TestMatrices.BitwiseEqual(svd.U.Data, again.U.Data));
    }

    [Theory]
    [InlineData(1.0)]      // Gaussian: CholeskyQR2
    [InlineData(1e-6)]     // κ ≈ 10⁶: still CholeskyQR2
    [InlineData(1e-12)]    // κ ≈ 10¹²: the Gram matrix is numerically singular, Householder QR
    [InlineData(0.0)]      // a zero column: rank-deficient, Householder QR
    public void Orthonormalize_gives_an_orthonormal_basis_of_the_columns(double smallest)
    {
        const int M = 500, L = 40;
        Matrix<double> y = TestMatrices.Gaussian(M, L, 21);
        for (int i = 0; i < M; i++)
        {
            for (int j = 0; j < L; j++)
            {
                y[i, j] *= Math.Pow(smallest == 0 ? 1 : smallest, (double)j / (L - 1));
            }

            if (smallest == 0)
            {
                y[i, L - 1] = 0;
            }
        }

        Matrix<double> q = RandomizedSvd.Orthonormalize(y, threads: 2);
        Assert.Equal(M, q.Rows);
        Assert.Equal(L, q.Cols);
        Assert.True(TestMatrices.OrthogonalityError(q) <= Tolerance(L), $"‖QᵀQ − I‖ = {TestMatrices.OrthogonalityError(q)}");

        // Q spans Y's columns: Y − Q·Qᵀ·Y vanishes relative to Y.
        Matrix<double> projected = Gemm.Multiply(q, Gemm.Multiply(Op.T, q, Op.N, y));
        double residual = TestMatrices.MaxAbs(Subtract(y, projected)), scale = TestMatrices.MaxAbs(y);
        Assert.True(residual <= 1e-10 * scale, $"‖Y − Q·Qᵀ·Y‖ = {residual}, ‖Y‖ = {scale}");
    }

    [Fact]
    public void Low_rank_product_SVD_matches_dense_SVD_of_product()
    {
        Matrix<double> l = TestMatrices.Gaussian(120, 16, 9);
        Matrix<double> r = TestMatrices.Gaussian(16, 90, 10);
        Matrix<double> product = Gemm.Multiply(l, r);
        SingularValueDecomposition lowRank = LowRankSvd.Decompose(l, r, threads: 2);
        SingularValueDecomposition dense = ThinSvd.Decompose(product);
        CheckSvd(product, lowRank, rank: 16);
        for (int i = 0; i < 16; i++)
        {
            Assert.True(Math.Abs(lowRank.S[i] - dense.S[i]) <= Tolerance(90) * dense.S[0]);
        }
    }

    [Fact]
    public void Low_rank_product_with_rank_above_dimensions_falls_back_to_dense()
    {
        Matrix<double> l = TestMatrices.Gaussian(6, 10, 11);
        Matrix<double> r = TestMatrices.Gaussian(10, 8, 12);
        Matrix<double> product = Gemm.Multiply(l, r);
        SingularValueDecomposition svd = LowRankSvd.Decompose(l, r);
        Assert.Equal(6, svd.Rank);
        CheckSvd(product, svd);
    }

    private static void CheckSvd(Matrix<double> a, SingularValueDecomposition svd, int? rank = null)
    {
        int r = rank ?? Math.Min(a.Rows, a.Cols);
        Assert.Equal(r, svd.Rank);
        Assert.Equal(a.Rows, svd.U.Rows);
        Assert.Equal(a.Cols, svd.V.Rows);
        for (int i = 1; i < r; i++)
        {
            Assert.True(svd.S[i - 1] >= svd.S[i] && svd.S[i] >= 0);
        }

        double scale = Math.Max(TestMatrices.MaxAbs(a), double.Epsilon) * Math.Max(a.Rows, a.Cols);
        Assert.True(TestMatrices.MaxAbsDifference(svd.Reconstruct(), a) <= Tolerance(r) * scale, "‖A − UΣVᵀ‖ too large");
        Assert.True(TestMatrices.OrthogonalityError(svd.U) <= Tolerance(r), "‖UᵀU − I‖ too large");
        Assert.True(TestMatrices.OrthogonalityError(svd.V) <= Tolerance(r), "‖VᵀV − I‖ too large");
    }

    private static Matrix<double> Subtract(Matrix<double> a, Matrix<double> b)
    {
        Matrix<double> d = a.Clone();
        for (int i = 0; i < d.Data.Length; i++)
        {
            d.Data[i] -= b.Data[i];
        }

        return d;
    }

    // ‖E‖₂ = √λ_max(EᵀE), from the dense symmetric eigensolver.
    private static double SpectralNormEstimate(Matrix<double> e)
        => Math.Sqrt(Math.Max(0, SymmetricEigen.Eigenvalues(Gemm.Multiply(Op.T, e, Op.N, e))[^1]));
}
