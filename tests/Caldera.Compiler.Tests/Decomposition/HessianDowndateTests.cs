using Caldera.Compiler.Decomposition;
using Caldera.Compiler.LinearAlgebra;
using Caldera.Compiler.Tests.LinearAlgebra;

namespace Caldera.Compiler.Tests.Decomposition;

/// <summary>
/// The downdate H_q = H − M·V_k·V_kᵀ·Mᵀ against a dense eigendecomposition: it is positive semidefinite with k zero
/// eigenvalues, so a rounding bound stands in for −λ_min, and the shifted H_q keeps the authors' 0.01 margin.
/// </summary>
public class HessianDowndateTests
{
    private const int M = 64, N = 96, K = 8;

    /// <summary>
    /// The dense eigensolver's own error, 32·n·ε·‖H‖ (as in <see cref="SymmetricEigenTests"/>): what separates "zero"
    /// from a real negative eigenvalue when the bound itself is ~10⁻¹³·‖H‖.
    /// </summary>
    private static double EigenTolerance(Matrix<double> h) => 32 * h.Rows * 2.2e-16 * TestMatrices.MaxAbs(h) * h.Rows;

    [Fact]
    public void The_downdated_Hessian_is_semidefinite_with_rank_n_minus_k()
    {
        var (h, cholesky, factors) = Layer(seed: 3);
        var (hq, v) = HessianDowndate.Downdated(h, cholesky, factors, threads: 1);
        double bound = HessianDowndate.RoundingBound(cholesky, v, threads: 1), tolerance = EigenTolerance(h);
        double[] values = SymmetricEigen.Eigenvalues(hq);
        Assert.True(values[0] >= -bound - tolerance, $"λ_min {values[0]:E3}, bound {bound:E3}");
        Assert.True(Math.Abs(values[K - 1]) <= bound + tolerance, $"λ_k {values[K - 1]:E3}: L·R's k directions are not all removed");
        Assert.True(values[K] > 1e3 * (bound + tolerance), $"λ_(k+1) {values[K]:E3}: more than k directions were removed");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void The_shifted_Hessian_keeps_the_margin_and_the_bound_is_negligible_beside_it(int threads)
    {
        // H_q as the Q-update reads it, a panel of rows at a time from H̃'s packed fp32 copy, against the whole matrix:
        // exactly H − M·V_k·V_kᵀ·Mᵀ + (0.01 + bound)·I + 0.01·|mean diag|·I, off the diagonal the downdate alone.
        var (h, cholesky, factors) = Layer(seed: 5);
        var single = h.Convert<float>();
        var widened = single.Convert<double>();
        var (unshifted, v) = HessianDowndate.Downdated(widened, cholesky, factors, threads);
        double bound = HessianDowndate.RoundingBound(cholesky, v, threads);
        Assert.InRange(bound, 0, 1e-8);
        var rows = QUpdateHessian.Downdated(Gemm.Pack(Op.N, single, threads), [], cholesky, factors, threads);
        var hq = Whole(rows);
        Assert.True(SymmetricEigen.Eigenvalues(hq)[0] >= 0.01, "H_q lost the 0.01 margin");

        double shift = 0.01 + bound, trace = 0;
        for (int i = 0; i < N; i++) trace += unshifted[i, i] + shift;
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                Assert.Equal(i == j ? unshifted[i, i] + shift + 0.01 * Math.Abs(trace / N) : unshifted[i, j], hq[i, j]);
        double mean = 0;
        for (int i = 0; i < N; i++) mean += hq[i, i];
        Assert.Equal(mean / N, rows.MeanDiagonal);
    }

    [Fact]
    public void Without_the_downdate_the_rows_are_the_packed_Hessian_widened_with_its_damping()
    {
        // 100 is not a multiple of the packed strips' width, and the damping is added in the order it was found.
        const int Order = 100;
        var h = TestMatrices.Hessian(Order, 200, 0.01, seed: 11).Convert<float>();
        double[] damping = [1e-6, 1e-5];
        var hq = Whole(QUpdateHessian.Plain(Gemm.Pack(Op.N, h, threads: 1), damping, threads: 1));
        for (int i = 0; i < Order; i++)
            for (int j = 0; j < Order; j++)
                Assert.Equal(i == j ? (double)h[i, j] + damping[0] + damping[1] : h[i, j], hq[i, j]);
    }

    /// <summary>Rows read in uneven panels (7 rows, then the rest), as a caller may.</summary>
    private static Matrix<double> Whole(HessianRows rows)
    {
        int n = rows.Dimension;
        var whole = new Matrix<double>(n, n);
        rows.CopyRows(0, 7, whole.Data.AsSpan(0, 7 * n));
        rows.CopyRows(7, n - 7, whole.Data.AsSpan(7 * n));
        return whole;
    }

    [Fact]
    public void The_bound_covers_a_basis_that_is_not_orthonormal()
    {
        // V_k scaled by 1 + 10⁻⁶ removes slightly more than M·V_k·V_kᵀ·Mᵀ: negative eigenvalues of size ≈ 2·10⁻⁶·‖M·v‖²,
        // which only the ‖V_kᵀ·V_k − I‖ term of the bound covers.
        var (h, cholesky, factors) = Layer(seed: 7);
        var (_, v) = HessianDowndate.Downdated(h, cholesky, factors, threads: 1);
        for (int i = 0; i < v.Data.Length; i++) v.Data[i] *= 1 + 1e-6;
        var mv = Gemm.Multiply(Dense(cholesky), v);
        var hq = h.Clone();
        Gemm.Multiply(Op.N, mv, Op.T, mv, -1.0, 1.0, hq);
        double lambdaMin = SymmetricEigen.Eigenvalues(hq)[0];
        Assert.True(lambdaMin < -1e-7, $"λ_min {lambdaMin:E3}: the perturbation should make H_q indefinite");
        Assert.True(lambdaMin >= -HessianDowndate.RoundingBound(cholesky, v, threads: 1));
    }

    private static Matrix<double> Dense(PackedLowerTriangular<double> c)
    {
        var dense = new Matrix<double>(c.N, c.N);
        for (int i = 0; i < c.N; i++) c.CopyRow(i, dense.Row(i));
        return dense;
    }

    private static (Matrix<double> H, PackedLowerTriangular<double> Cholesky, LowRankFactors Factors) Layer(int seed)
    {
        var h = TestMatrices.Hessian(N, 200, 0.01, seed);
        Assert.True(Cholesky.TryFactor(h, out var dense));
        var cholesky = PackedLowerTriangular<double>.Pack(dense);
        var random = new Random(seed);
        var l = new Matrix<float>(M, K, TestData.Gaussian(random, M * K));
        var r = new Matrix<float>(K, N, TestData.Gaussian(random, K * N));
        return (h, cholesky, new LowRankFactors(l, r, null, null, 16));
    }
}
