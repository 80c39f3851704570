using System.Numerics;
using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Compiler.Tests.LinearAlgebra;

/// <summary>A packed right operand must give bitwise the unpacked product: same strips, same loop nest.</summary>
public class PackedGemmTests
{
    // k crosses depth blocks (KC is 192 to 512 by kernel), n crosses NR strips and, with 4100, the 4096-column
    // panels; odd sizes leave partial register tiles on every side; leading dimensions exceed the widths.
    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 1, 1 },
        { 7, 13, 5 },
        { 64, 300, 257 },
        { 13, 257, 511 },
        { 5, 4100, 3 },
        { 37, 33, 1030 },
        { 0, 9, 4 },
        { 6, 11, 0 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Packed_sgemm_is_bitwise_the_unpacked_one(int m, int n, int k) => CheckAllVariants<float>(m, n, k);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Packed_dgemm_is_bitwise_the_unpacked_one(int m, int n, int k) => CheckAllVariants<double>(m, n, k);

    [Fact]
    public void One_pack_serves_many_left_operands()
    {
        // The LR step's use: H packed once, then R·H for a new R each step.
        Matrix<float> h = TestMatrices.GaussianSingle(200, 200, 7);
        PackedGemmOperand<float> packed = Gemm.Pack(Op.N, h, threads: 2);
        for (int seed = 0; seed < 3; seed++)
        {
            Matrix<float> r = TestMatrices.GaussianSingle(64, 200, 100 + seed);
            Matrix<float> expected = Gemm.Multiply(Op.N, r, Op.N, h, threads: 2);
            Assert.True(TestMatrices.BitwiseEqual(expected.Data, Gemm.Multiply(Op.N, r, packed, threads: 1).Data));
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(13, 257)]
    [InlineData(511, 37)]
    [InlineData(300, 4100)]
    public void Each_row_copied_out_of_the_packed_strips_is_the_operand_row(int k, int n)
    {
        // k crosses depth blocks and n the NR strips and the 4096-column panels, both ending partial; both layouts (op N, op T).
        Matrix<float> b = TestMatrices.GaussianSingle(k, n, k + n);
        var fromN = Gemm.Pack(Op.N, b, threads: 2);
        var fromT = Gemm.Pack(Op.T, b.Transpose(), threads: 2);
        var row = new float[n];
        for (int p = 0; p < k; p++)
        {
            fromN.CopyRow(p, row);
            Assert.Equal(b.Row(p).ToArray(), row);
            row.AsSpan().Clear();
            fromT.CopyRow(p, row);
            Assert.Equal(b.Row(p).ToArray(), row);
        }
    }

    [Fact]
    public void Rejects_mismatched_shapes_and_short_spans()
    {
        PackedGemmOperand<float> packed = Gemm.Pack(Op.N, new Matrix<float>(4, 6));
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(Op.N, new Matrix<float>(3, 5), packed));
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(Op.N, 3, 1f, new float[11], 4, packed, 0f, new float[18], 6));
        Assert.Throws<ArgumentException>(() => Gemm.Multiply(Op.N, 3, 1f, new float[12], 4, packed, 0f, new float[17], 6));
        Assert.Throws<ArgumentException>(() => Gemm.Pack(Op.N, 4, 6, new float[23], 6));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(Op.N, 3, 1f, new float[12], 4, packed, 0f, new float[18], 6, threads: 0));
    }

    private static void CheckAllVariants<T>(int m, int n, int k) where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (GemmKernelKind kind in Enum.GetValues<GemmKernelKind>().Where(GemmKernelKinds.IsSupported))
            foreach (Op opA in new[] { Op.N, Op.T })
                foreach (Op opB in new[] { Op.N, Op.T })
                    foreach (int threads in new[] { 1, 2 })
                        Check<T>(kind, opA, opB, m, n, k, threads);
    }

    private static void Check<T>(GemmKernelKind kind, Op opA, Op opB, int m, int n, int k, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int lda = Math.Max(opA == Op.N ? k : m, 1) + 1, ldb = Math.Max(opB == Op.N ? n : k, 1) + 2, ldc = Math.Max(n, 1) + 3;
        T[] a = TestMatrices.Gaussian(1, Math.Max(opA == Op.N ? m : k, 1) * lda, 10 + m).Convert<T>().Data;
        T[] b = TestMatrices.Gaussian(1, Math.Max(opB == Op.N ? k : n, 1) * ldb, 20 + n).Convert<T>().Data;
        T[] c = TestMatrices.Gaussian(1, Math.Max(m, 1) * ldc, 30 + k).Convert<T>().Data;
        T alpha = T.CreateTruncating(1.5), beta = T.CreateTruncating(-0.25);

        T[] expected = (T[])c.Clone();
        Gemm.Multiply(kind, opA, opB, m, n, k, alpha, a, lda, b, ldb, beta, expected, ldc, threads);
        PackedGemmOperand<T> packed = Gemm.Pack(kind, opB, k, n, b, ldb, threads);
        T[] actual = (T[])c.Clone();
        Gemm.Multiply(opA, m, alpha, a, lda, packed, beta, actual, ldc, threads);
        Assert.True(TestMatrices.BitwiseEqual(expected, actual), $"{kind} {opA}{opB} {m}×{n}×{k}, {threads} threads");
    }
}
