using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Compiler.Tests.LinearAlgebra;

public class BlockLdlTests
{
    // L·D·Lᵀ rebuilds H through C·Cᵀ plus one b×b triangular solve per row: the Cholesky backward-error bound
    // grown by κ(C_jj) of the small diagonal blocks; 64·n·ε·max|H| covers it with margin for these Hessians.
    private static double Tolerance(int n) => 64 * n * 2.2e-16;

    [Theory]
    [InlineData(8, 8)]
    [InlineData(64, 8)]
    [InlineData(264, 8)]
    [InlineData(96, 16)]
    public void Reconstructs_Hessian_with_unit_block_lower_factor(int n, int b)
    {
        Matrix<double> h = TestMatrices.Hessian(n, 2 * n, 0.01, n);
        Assert.True(BlockLdl.TryDecompose(h, b, out BlockLdl? ldl, threads: 2));
        Matrix<double> l = ldl.Lower;
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                bool sameBlock = i / b == j / b;
                if (sameBlock)
                {
                    Assert.Equal(i == j ? 1.0 : 0.0, l[i, j]);
                }
                else if (j > i)
                {
                    Assert.Equal(0.0, l[i, j]);
                }
            }
        }

        // Dense D from its stacked blocks, then H − L·D·Lᵀ.
        var d = new Matrix<double>(n, n);
        for (int i = 0; i < n; i++)
        {
            for (int q = 0; q < b; q++)
            {
                d[i, (i / b * b) + q] = ldl.DiagonalBlocks[i, q];
            }
        }

        Matrix<double> ldlt = Gemm.Multiply(Op.N, Gemm.Multiply(l, d), Op.T, l);
        Assert.True(TestMatrices.MaxAbsDifference(ldlt, h) <= Tolerance(n) * TestMatrices.MaxAbs(h));

        // Each D_j is symmetric positive definite (it is C_jj·C_jjᵀ).
        for (int j0 = 0; j0 < n; j0 += b)
        {
            Matrix<double> dj = ldl.DiagonalBlocks.Slice(j0, b, 0, b);
            Assert.True(Cholesky.TryFactor(dj, out _));
            Assert.True(TestMatrices.MaxAbsDifference(dj, dj.Transpose()) <= 1e-12 * TestMatrices.MaxAbs(dj));
        }
    }

    [Fact]
    public void Non_positive_definite_returns_false()
    {
        double[] spectrum = TestMatrices.LogSpaced(32, 10);
        spectrum[5] = -1;
        Assert.False(BlockLdl.TryDecompose(TestMatrices.SymmetricWithSpectrum(spectrum, 2), 8, out BlockLdl? ldl));
        Assert.Null(ldl);
    }

    [Fact]
    public void Size_not_multiple_of_block_is_rejected()
    {
        Assert.Throws<ArgumentException>(() => BlockLdl.TryDecompose(Matrix<double>.Identity(12), 8, out _));
    }

    [Fact]
    public void Result_is_bitwise_identical_for_one_and_two_threads()
    {
        Matrix<double> h = TestMatrices.Hessian(256, 300, 0.01, 11);
        Assert.True(BlockLdl.TryDecompose(h, 8, out BlockLdl? one, threads: 1));
        Assert.True(BlockLdl.TryDecompose(h, 8, out BlockLdl? two, threads: 2));
        Assert.True(TestMatrices.BitwiseEqual(one.Lower.Data, two.Lower.Data));
        Assert.True(TestMatrices.BitwiseEqual(one.DiagonalBlocks.Data, two.DiagonalBlocks.Data));
    }
}
