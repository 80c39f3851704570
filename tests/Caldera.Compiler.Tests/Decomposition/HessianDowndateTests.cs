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

    [Fact]
    public void The_shifted_Hessian_keeps_the_margin_and_the_bound_is_negligible_beside_it()
    {
        var (h, cholesky, factors) = Layer(seed: 5);
        var hq = h.Clone();
        HessianDowndate.Apply(hq, cholesky, factors, threads: 2);
        var (unshifted, v) = HessianDowndate.Downdated(h, cholesky, factors, threads: 2);
        double bound = HessianDowndate.RoundingBound(cholesky, v, threads: 2);
        Assert.InRange(bound, 0, 1e-8);
        Assert.True(SymmetricEigen.Eigenvalues(hq)[0] >= 0.01, "H_q lost the 0.01 margin");

        // Exactly H − M·V_k·V_kᵀ·Mᵀ + (0.01 + bound)·I + 0.01·|mean diag|·I, off the diagonal untouched.
        double trace = 0;
        for (int i = 0; i < N; i++) trace += unshifted[i, i] + 0.01 + bound;
        double shift = 0.01 + bound;
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
            {
                double expected = i == j ? unshifted[i, i] + shift + 0.01 * Math.Abs(trace / N) : unshifted[i, j];
                Assert.Equal(expected, hq[i, j], 1e-12);
            }
    }

    [Fact]
    public void The_bound_covers_a_basis_that_is_not_orthonormal()
    {
        // V_k scaled by 1 + 10⁻⁶ removes slightly more than M·V_k·V_kᵀ·Mᵀ: negative eigenvalues of size ≈ 2·10⁻⁶·‖M·v‖²,
        // which only the ‖V_kᵀ·V_k − I‖ term of the bound covers.
        var (h, cholesky, factors) = Layer(seed: 7);
        var (_, v) = HessianDowndate.Downdated(h, cholesky, factors, threads: 1);
        for (int i = 0; i < v.Data.Length; i++) v.Data[i] *= 1 + 1e-6;
        var mv = Gemm.Multiply(cholesky, v);
        var hq = h.Clone();
        Gemm.Multiply(Op.N, mv, Op.T, mv, -1.0, 1.0, hq);
        double lambdaMin = SymmetricEigen.Eigenvalues(hq)[0];
        Assert.True(lambdaMin < -1e-7, $"λ_min {lambdaMin:E3}: the perturbation should make H_q indefinite");
        Assert.True(lambdaMin >= -HessianDowndate.RoundingBound(cholesky, v, threads: 1));
    }

    private static (Matrix<double> H, Matrix<double> Cholesky, LowRankFactors Factors) Layer(int seed)
    {
        var h = TestMatrices.Hessian(N, 200, 0.01, seed);
        Assert.True(Cholesky.TryFactor(h, out var cholesky));
        var random = new Random(seed);
        var l = new Matrix<float>(M, K, TestData.Gaussian(random, M * K));
        var r = new Matrix<float>(K, N, TestData.Gaussian(random, K * N));
        return (h, cholesky, new LowRankFactors(l, r, null, null, 16));
    }
}
