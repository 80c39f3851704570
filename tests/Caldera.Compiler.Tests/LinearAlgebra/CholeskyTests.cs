using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Compiler.Tests.LinearAlgebra;

public class CholeskyTests
{
    // Backward error of Cholesky: ‖H − C·Cᵀ‖ ≤ c·n·ε·‖H‖ (Wilkinson). 8·n·ε per unit of max|H| keeps a
    // margin above that and is orders of magnitude below a wrong panel update.
    private static double ReconstructionTolerance(int n) => 8 * n * 2.2e-16;

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(128)]
    [InlineData(129)]
    [InlineData(300)]
    public void Factor_reconstructs_Hessian_and_is_lower_triangular(int n)
    {
        Matrix<double> h = TestMatrices.Hessian(n, 2 * n, 0.01, n);
        Assert.True(Cholesky.TryFactor(h, out Matrix<double>? c));
        for (int i = 0; i < n; i++)
        {
            for (int j = i + 1; j < n; j++)
            {
                Assert.Equal(0.0, c[i, j]);
            }

            Assert.True(c[i, i] > 0);
        }

        Matrix<double> product = Gemm.Multiply(Op.N, c, Op.T, c);
        Assert.True(TestMatrices.MaxAbsDifference(product, h) <= ReconstructionTolerance(n) * TestMatrices.MaxAbs(h));
    }

    [Fact]
    public void Ill_conditioned_factor_still_reconstructs()
    {
        Matrix<double> h = TestMatrices.SymmetricWithSpectrum(TestMatrices.LogSpaced(200, 1e12), 7);
        Assert.True(Cholesky.TryFactor(h, out Matrix<double>? c));
        Matrix<double> product = Gemm.Multiply(Op.N, c, Op.T, c);
        Assert.True(TestMatrices.MaxAbsDifference(product, h) <= ReconstructionTolerance(200) * TestMatrices.MaxAbs(h));
    }

    [Fact]
    public void Non_positive_definite_returns_false_and_damping_recovers()
    {
        double[] spectrum = TestMatrices.LogSpaced(150, 100);
        spectrum[^1] = -0.05;
        Matrix<double> h = TestMatrices.SymmetricWithSpectrum(spectrum, 3);
        Assert.False(Cholesky.TryFactor(h, out Matrix<double>? none));
        Assert.Null(none);

        for (int i = 0; i < h.Rows; i++)
        {
            h[i, i] += 0.1;
        }

        Assert.True(Cholesky.TryFactor(h, out _));
    }

    [Fact]
    public void NaN_input_returns_false()
    {
        Matrix<double> h = TestMatrices.Hessian(20, 40, 0.01, 1);
        h[10, 3] = double.NaN;
        Assert.False(Cholesky.TryFactor(h, out _));
    }

    [Fact]
    public void Result_is_bitwise_identical_for_one_and_two_threads()
    {
        Matrix<double> h = TestMatrices.Hessian(400, 500, 0.01, 2);
        Assert.True(Cholesky.TryFactor(h, out Matrix<double>? one, threads: 1));
        Assert.True(Cholesky.TryFactor(h, out Matrix<double>? two, threads: 2));
        Assert.True(TestMatrices.BitwiseEqual(one.Data, two.Data));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(50, 7)]
    [InlineData(200, 130)]
    public void Triangular_solves_invert_their_products(int n, int r)
    {
        Matrix<double> h = TestMatrices.Hessian(n, 2 * n, 0.1, n + r);
        Assert.True(Cholesky.TryFactor(h, out Matrix<double>? c));
        Matrix<double> x = TestMatrices.Gaussian(n, r, 9);
        Matrix<double> upper = c.Transpose();

        // Each solve must undo the product it inverts: ‖solve(T, T·X) − X‖ ≲ κ(T)·ε; κ(C) ≤ √κ(H) is small here.
        const double SolveTolerance = 1e-9;
        Matrix<double> b = Gemm.Multiply(c, x);
        TriangularSolve.SolveLower(c, b, threads: 2);
        Assert.True(TestMatrices.MaxAbsDifference(b, x) <= SolveTolerance);

        b = Gemm.Multiply(upper, x);
        TriangularSolve.SolveLowerTransposed(c, b);
        Assert.True(TestMatrices.MaxAbsDifference(b, x) <= SolveTolerance);

        b = Gemm.Multiply(upper, x);
        TriangularSolve.SolveUpper(upper, b);
        Assert.True(TestMatrices.MaxAbsDifference(b, x) <= SolveTolerance);
    }

    [Fact]
    public void Unit_diagonal_solve_ignores_stored_diagonal()
    {
        var l = new Matrix<double>(2, 2, [5, 0, 2, 7]);
        var b = new Matrix<double>(2, 1, [1, 4]);
        TriangularSolve.SolveLower(l, b, unitDiagonal: true);
        Assert.Equal([1.0, 2.0], b.Data);
    }

    [Fact]
    public void Triangular_solve_is_bitwise_identical_for_one_and_two_threads()
    {
        Matrix<double> h = TestMatrices.Hessian(120, 240, 0.1, 5);
        Assert.True(Cholesky.TryFactor(h, out Matrix<double>? c));
        Matrix<double> b1 = TestMatrices.Gaussian(120, 300, 6);
        Matrix<double> b2 = b1.Clone();
        TriangularSolve.SolveLowerTransposed(c, b1, threads: 1);
        TriangularSolve.SolveLowerTransposed(c, b2, threads: 2);
        Assert.True(TestMatrices.BitwiseEqual(b1.Data, b2.Data));
    }
}
