using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Compiler.Tests.LinearAlgebra;

public class GemmTests
{
    // Any summation order of k products has |error| ≤ γ_k·Σ|a_ip·b_pj| with γ_k ≈ k·u (u = ε/2); α and β add two
    // more roundings. (k + 2)·ε is that bound with a factor-2 margin, and far below what an indexing or packing
    // bug produces (an error the size of a whole term).
    private static double Bound<T>(int k) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        => (k + 2) * double.CreateTruncating(T.BitIncrement(T.One) - T.One);

    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 1, 1 },
        { 7, 13, 5 },
        { 12, 32, 192 },
        { 65, 129, 33 },
        { 257, 31, 300 },
        { 13, 257, 511 },
        { 100, 70, 0 },
        { 0, 5, 3 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Sgemm_matches_reference_for_every_transpose_and_kernel(int m, int n, int k) => CheckAllVariants<float>(m, n, k);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Dgemm_matches_reference_for_every_transpose_and_kernel(int m, int n, int k) => CheckAllVariants<double>(m, n, k);

    [Fact]
    public void Real_model_shape_matches_reference()
    {
        // A 4-row activation block times a 4096-wide weight slice (op(B) = Wᵀ as in y = W·x) crosses KC blocks.
        CheckAgainstReference<float>(GemmKernelKinds.Best, Op.N, Op.T, 4, 96, 4096, 1.0f, 0.0f, lda: 4096, ldb: 4096, ldc: 96);
    }

    [Fact]
    public void Leading_dimensions_larger_than_widths_read_only_the_view()
    {
        CheckAgainstReference<float>(GemmKernelKinds.Best, Op.N, Op.N, 37, 41, 29, 0.75f, -0.5f, lda: 40, ldb: 50, ldc: 45);
        CheckAgainstReference<double>(GemmKernelKinds.Best, Op.T, Op.T, 37, 41, 29, -1.0, 2.0, lda: 44, ldb: 33, ldc: 60);
    }

    [Fact]
    public void Beta_zero_overwrites_NaN_in_C()
    {
        var a = new Matrix<float>(3, 2, [1, 2, 3, 4, 5, 6]);
        var b = new Matrix<float>(2, 2, [1, 0, 0, 1]);
        var c = new Matrix<float>(3, 2, Enumerable.Repeat(float.NaN, 6).ToArray());
        Gemm.Multiply(Op.N, a, Op.N, b, 1f, 0f, c);
        Assert.Equal(a.Data, c.Data);
    }

    [Theory]
    [InlineData(257, 263, 300)]
    [InlineData(1000, 40, 700)]
    [InlineData(30, 700, 900)]
    public void Result_is_bitwise_identical_for_one_two_and_three_threads(int m, int n, int k)
    {
        Matrix<float> a = TestMatrices.GaussianSingle(m, k, 1);
        Matrix<float> b = TestMatrices.GaussianSingle(n, k, 2);
        Matrix<float> c0 = TestMatrices.GaussianSingle(m, n, 3);
        float[] one = Run(1);
        Assert.True(TestMatrices.BitwiseEqual(one, Run(2)));
        Assert.True(TestMatrices.BitwiseEqual(one, Run(3)));

        float[] Run(int threads)
        {
            Matrix<float> c = c0.Clone();
            Gemm.Multiply(Op.N, a, Op.T, b, 1.25f, 0.5f, c, threads);
            return c.Data;
        }
    }

    [Fact]
    public void Dgemm_is_bitwise_identical_for_one_and_two_threads()
    {
        Matrix<double> a = TestMatrices.Gaussian(300, 517, 4);
        Matrix<double> b = TestMatrices.Gaussian(300, 129, 5);
        Matrix<double> one = Gemm.Multiply(Op.T, a, Op.N, b, threads: 1);
        Matrix<double> two = Gemm.Multiply(Op.T, a, Op.N, b, threads: 2);
        Assert.True(TestMatrices.BitwiseEqual(one.Data, two.Data));
    }

    [Fact]
    public void Rejects_operands_too_short_for_their_shape()
    {
        var a = new float[10];
        var b = new float[12];
        var c = new float[12];
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(Op.N, Op.N, 3, 4, 4, 1f, a, 4, b, 4, 0f, c, 4));
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(Op.N, Op.N, 2, 4, 3, 1f, a, 2, b, 4, 0f, c, 4));
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(Op.N, Matrix(2, 3), Op.N, Matrix(2, 3), 1f, 0f, Matrix(2, 3)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(Op.N, Op.N, 1, 1, 1, 1f, a, 1, b, 1, 0f, c, 1, threads: 0));

        static Matrix<float> Matrix(int rows, int cols) => new(rows, cols);
    }

    private static void CheckAllVariants<T>(int m, int n, int k) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        foreach (GemmKernelKind kind in Enum.GetValues<GemmKernelKind>().Where(GemmKernelKinds.IsSupported))
        {
            foreach (Op opA in new[] { Op.N, Op.T })
            {
                foreach (Op opB in new[] { Op.N, Op.T })
                {
                    int lda = opA == Op.N ? k : m;
                    int ldb = opB == Op.N ? n : k;
                    CheckAgainstReference(kind, opA, opB, m, n, k, T.CreateTruncating(1.5), T.CreateTruncating(-0.25),
                        Math.Max(lda, 1), Math.Max(ldb, 1), Math.Max(n, 1));
                }
            }
        }
    }

    private static void CheckAgainstReference<T>(
        GemmKernelKind kind, Op opA, Op opB, int m, int n, int k, T alpha, T beta, int lda, int ldb, int ldc)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        int rowsA = opA == Op.N ? m : k;
        int rowsB = opB == Op.N ? k : n;
        T[] a = TestMatrices.Gaussian(1, rowsA * lda, 10 + m).Convert<T>().Data;
        T[] b = TestMatrices.Gaussian(1, rowsB * ldb, 20 + n).Convert<T>().Data;
        T[] c = TestMatrices.Gaussian(1, m * ldc, 30 + k).Convert<T>().Data;
        T[] expected = (T[])c.Clone();
        ReferenceGemm.Multiply(opA, opB, m, n, k, alpha, a, lda, b, ldb, beta, expected, ldc);

        // Σ|α·a_ip·b_pj| + |β·c_ij|: the scale each element's rounding error is bounded against.
        T[] magnitude = c.Select(T.Abs).ToArray();
        ReferenceGemm.Multiply(opA, opB, m, n, k, T.Abs(alpha), a.Select(T.Abs).ToArray(), lda,
            b.Select(T.Abs).ToArray(), ldb, T.Abs(beta), magnitude, ldc);

        T[] actual = (T[])c.Clone();
        Gemm.Multiply(kind, opA, opB, m, n, k, alpha, a, lda, b, ldb, beta, actual, ldc, threads: 2);
        double bound = Bound<T>(k);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < ldc; j++)
            {
                int at = (i * ldc) + j;
                if (j >= n)
                {
                    Assert.Equal(c[at], actual[at]);
                    continue;
                }

                double error = Math.Abs(double.CreateTruncating(actual[at]) - double.CreateTruncating(expected[at]));
                double allowed = (bound * double.CreateTruncating(magnitude[at])) + 1e-30;
                Assert.True(error <= allowed,
                    $"{kind} {opA}{opB} {m}×{n}×{k}: C[{i},{j}] = {actual[at]}, reference {expected[at]}, error {error:E3} > {allowed:E3}");
            }
        }
    }
}
