using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Compiler.Tests.LinearAlgebra;

public class SymmetricEigenTests
{
    // Householder + QL is backward stable: ‖A·V − V·Λ‖ and ‖VᵀV − I‖ are O(n·ε·‖A‖) and O(n·ε). 32·n·ε leaves
    // margin and is still far below any mis-applied rotation or reflection.
    private static double Tolerance(int n) => 32 * n * 2.2e-16;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(17)]
    [InlineData(200)]
    public void Random_symmetric_matrix_diagonalizes(int n)
    {
        Matrix<double> a = TestMatrices.Gaussian(n, n, n);
        TestMatrices.Symmetrize(a);
        Check(a, SymmetricEigen.Decompose(a, threads: 2));
    }

    [Fact]
    public void Known_spectrum_is_recovered_ascending_including_repeats_and_negatives()
    {
        double[] spectrum = [5, -3, 2, 2, 2, 1e-9, 0, -1e-6, 7.5, 2];
        SymmetricEigen eigen = SymmetricEigen.Decompose(TestMatrices.SymmetricWithSpectrum(spectrum, 4));
        double[] expected = spectrum.Order().ToArray();
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(eigen.Values[i] - expected[i]) <= Tolerance(10) * 7.5, $"λ{i} = {eigen.Values[i]}, expected {expected[i]}");
        }
    }

    [Fact]
    public void Ill_conditioned_Hessian_diagonalizes()
    {
        Matrix<double> h = TestMatrices.SymmetricWithSpectrum(TestMatrices.LogSpaced(120, 1e14), 8);
        Check(h, SymmetricEigen.Decompose(h));
    }

    [Fact]
    public void Diagonal_and_tridiagonal_inputs_need_no_reflections()
    {
        var a = new Matrix<double>(3, 3, [3, 0, 0, 0, 1, 0, 0, 0, 2]);
        SymmetricEigen eigen = SymmetricEigen.Decompose(a);
        Assert.Equal([1.0, 2.0, 3.0], eigen.Values);
        Check(a, eigen);
    }

    [Fact]
    public void Eigenvalues_only_match_full_decomposition()
    {
        Matrix<double> h = TestMatrices.Hessian(90, 120, 0.01, 3);
        double[] values = SymmetricEigen.Eigenvalues(h);
        double[] full = SymmetricEigen.Decompose(h).Values;
        for (int i = 0; i < values.Length; i++)
        {
            Assert.True(Math.Abs(values[i] - full[i]) <= Tolerance(90) * full[^1]);
        }
    }

    [Fact]
    public void Result_is_bitwise_identical_for_one_and_two_threads()
    {
        // 520 > 2·256: large enough that the reflector, Q-accumulation and rotation updates all split across threads.
        Matrix<double> h = TestMatrices.Hessian(520, 600, 0.01, 6);
        SymmetricEigen one = SymmetricEigen.Decompose(h, threads: 1);
        SymmetricEigen two = SymmetricEigen.Decompose(h, threads: 2);
        Assert.True(TestMatrices.BitwiseEqual(one.Values, two.Values));
        Assert.True(TestMatrices.BitwiseEqual(one.Vectors.Data, two.Vectors.Data));
    }

    [Fact]
    public void Non_finite_input_is_rejected()
    {
        Matrix<double> a = Matrix<double>.Identity(4);
        a[2, 1] = double.PositiveInfinity;
        Assert.Throws<ArgumentException>(() => SymmetricEigen.Decompose(a));
    }

    private static void Check(Matrix<double> a, SymmetricEigen eigen)
    {
        int n = a.Rows;
        double scale = Math.Max(TestMatrices.MaxAbs(a), double.Epsilon) * n;
        for (int i = 1; i < n; i++)
        {
            Assert.True(eigen.Values[i - 1] <= eigen.Values[i]);
        }

        Matrix<double> av = Gemm.Multiply(a, eigen.Vectors);
        Matrix<double> vl = eigen.Vectors.Clone();
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                vl[i, j] *= eigen.Values[j];
            }
        }

        Assert.True(TestMatrices.MaxAbsDifference(av, vl) <= Tolerance(n) * scale, "‖A·V − V·Λ‖ too large");
        Assert.True(TestMatrices.OrthogonalityError(eigen.Vectors) <= Tolerance(n), "‖VᵀV − I‖ too large");
    }
}
