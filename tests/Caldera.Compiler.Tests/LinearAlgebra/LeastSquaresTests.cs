using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Compiler.Tests.LinearAlgebra;

public class LeastSquaresTests
{
    [Fact]
    public void Well_conditioned_problem_uses_normal_equations_and_satisfies_them()
    {
        Matrix<double> a = TestMatrices.Gaussian(400, 32, 1);
        Matrix<double> b = TestMatrices.Gaussian(400, 50, 2);
        LeastSquaresSolution solution = LeastSquares.Solve(a, b, threads: 2);
        Assert.Equal(LeastSquaresMethod.NormalEquations, solution.Method);

        // Optimality: Aᵀ·(A·X − B) = 0 up to rounding, relative to ‖Aᵀ‖·‖B‖-sized terms (n·ε·scale, with margin).
        Assert.True(NormalEquationResidual(a, b, solution.X) <= 1e-10);

        // Differential: the pseudo-inverse route must agree on a full-rank problem.
        Matrix<double> viaSvd = LeastSquares.PseudoInverseSolve(a, b);
        Assert.True(TestMatrices.MaxAbsDifference(solution.X, viaSvd) <= 1e-10);
    }

    [Fact]
    public void Exactly_consistent_system_recovers_the_generator()
    {
        Matrix<double> a = TestMatrices.Gaussian(100, 10, 3);
        Matrix<double> x = TestMatrices.Gaussian(10, 4, 4);
        LeastSquaresSolution solution = LeastSquares.Solve(a, Gemm.Multiply(a, x));
        Assert.True(TestMatrices.MaxAbsDifference(solution.X, x) <= 1e-12);
    }

    [Fact]
    public void Rank_deficient_problem_falls_back_to_minimum_norm_pseudo_inverse()
    {
        // Column 3 duplicates column 1: AᵀA is singular, so Cholesky fails or looks infinitely ill-conditioned.
        Matrix<double> a = TestMatrices.Gaussian(60, 5, 5);
        for (int i = 0; i < a.Rows; i++)
        {
            a[i, 3] = a[i, 1];
        }

        Matrix<double> b = TestMatrices.Gaussian(60, 2, 6);
        LeastSquaresSolution solution = LeastSquares.Solve(a, b);
        Assert.Equal(LeastSquaresMethod.PseudoInverse, solution.Method);
        Assert.True(NormalEquationResidual(a, b, solution.X) <= 1e-10);

        // Minimum norm: the duplicated pair shares its weight equally.
        for (int j = 0; j < b.Cols; j++)
        {
            Assert.True(Math.Abs(solution.X[1, j] - solution.X[3, j]) <= 1e-10);
        }
    }

    [Fact]
    public void Ill_conditioned_problem_falls_back_and_stays_accurate()
    {
        // κ(A) = 1e7 → κ(AᵀA) = 1e14: the normal equations would lose ~14 digits, the SVD route keeps ~9.
        int n = 12;
        double[] sigma = TestMatrices.LogSpaced(n, 1e7);
        Matrix<double> q1 = HouseholderQr.Decompose(TestMatrices.Gaussian(90, n, 7)).Q;
        Matrix<double> q2 = HouseholderQr.Decompose(TestMatrices.Gaussian(n, n, 8)).Q;
        for (int i = 0; i < q1.Rows; i++)
        {
            for (int j = 0; j < n; j++)
            {
                q1[i, j] *= sigma[j];
            }
        }

        Matrix<double> a = Gemm.Multiply(Op.N, q1, Op.T, q2);
        Matrix<double> x = TestMatrices.Gaussian(n, 3, 9);
        LeastSquaresSolution solution = LeastSquares.Solve(a, Gemm.Multiply(a, x));
        Assert.Equal(LeastSquaresMethod.PseudoInverse, solution.Method);
        Assert.True(TestMatrices.MaxAbsDifference(solution.X, x) <= 1e-6);
    }

    [Fact]
    public void Non_finite_input_and_shape_mismatch_are_rejected()
    {
        Matrix<double> a = TestMatrices.Gaussian(10, 3, 1);
        a[4, 2] = double.NaN;
        Assert.Throws<ArgumentException>(() => LeastSquares.Solve(a, new Matrix<double>(10, 1)));
        Assert.Throws<ArgumentException>(() => LeastSquares.Solve(TestMatrices.Gaussian(10, 3, 1), new Matrix<double>(9, 1)));
        Assert.Throws<ArgumentException>(() => LeastSquares.Solve(TestMatrices.Gaussian(3, 10, 1), new Matrix<double>(3, 1)));
    }

    [Fact]
    public void Result_is_bitwise_identical_for_one_and_two_threads()
    {
        Matrix<double> a = TestMatrices.Gaussian(500, 64, 10);
        Matrix<double> b = TestMatrices.Gaussian(500, 200, 11);
        Assert.True(TestMatrices.BitwiseEqual(LeastSquares.Solve(a, b, 1).X.Data, LeastSquares.Solve(a, b, 2).X.Data));
    }

    // max |Aᵀ·(A·X − B)| / (max|A|²·max|B|·m): the scaled gradient of ‖A·X − B‖², zero at the minimiser.
    private static double NormalEquationResidual(Matrix<double> a, Matrix<double> b, Matrix<double> x)
    {
        Matrix<double> residual = Gemm.Multiply(a, x);
        for (int i = 0; i < residual.Data.Length; i++)
        {
            residual.Data[i] -= b.Data[i];
        }

        Matrix<double> gradient = Gemm.Multiply(Op.T, a, Op.N, residual);
        double scale = TestMatrices.MaxAbs(a) * TestMatrices.MaxAbs(a) * TestMatrices.MaxAbs(b) * a.Rows;
        return TestMatrices.MaxAbs(gradient) / scale;
    }
}
