using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Compiler.Tests.LinearAlgebra;

/// <summary>A·C for a packed lower-triangular C against the dense GEMM and the product computed in fp64.</summary>
public class PackedLowerTriangularTests
{
    [Theory]
    [InlineData(5, 1)]
    [InlineData(13, 383)]
    [InlineData(64, 385)]   // a second panel of one column
    [InlineData(30, 1000)]  // three panels, the last partial; k crosses several depth blocks in every panel
    public void The_product_is_bitwise_the_dense_GEMM(int m, int n)
    {
        var a = TestMatrices.GaussianSingle(m, n, seed: m + 3 * n);
        var c = TestMatrices.GaussianSingle(n, n, seed: n);
        for (int i = 0; i < n; i++) c.Row(i)[(i + 1)..].Clear();
        var dense = Gemm.Multiply(a, c, threads: 2);
        foreach (int threads in new[] { 1, 2 })
            Assert.Equal(dense.Data, PackedLowerTriangular<float>.Pack(c, threads).MultiplyRight(a, threads).Data);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(385)]    // a second fp64 panel of one row
    [InlineData(1000)]   // several panels, the last partial
    public void Rows_elements_and_the_transposed_solve_read_the_packed_triangle_as_the_dense_one(int n)
    {
        var c = TestMatrices.Gaussian(n, n, seed: n);
        for (int i = 0; i < n; i++)
        {
            c.Row(i)[(i + 1)..].Clear();
            c[i, i] = Math.Abs(c[i, i]) + 1;
        }
        var packed = PackedLowerTriangular<double>.Pack(c, threads: 2);
        var row = new double[n];
        for (int i = 0; i < n; i++)
        {
            row.AsSpan().Fill(double.NaN);
            packed.CopyRow(i, row);
            Assert.Equal(c.Row(i).ToArray(), row);
            foreach (int j in new[] { 0, i / 2, i, Math.Min(n - 1, i + 1), n - 1 }) Assert.Equal(c[i, j], packed[i, j]);
        }

        // Cᵀ·X = B: the same arithmetic in the same order as the dense solve, so bitwise the same X, at 1 and 2 threads.
        foreach (int threads in new[] { 1, 2 })
        {
            var dense = TestMatrices.Gaussian(n, 130, seed: 7);
            var fromPacked = dense.Clone();
            TriangularSolve.SolveLowerTransposed(c, dense, threads: threads);
            TriangularSolve.SolveLowerTransposed(packed, fromPacked, threads);
            Assert.Equal(dense.Data, fromPacked.Data);
        }

        // Converted to fp32 a panel at a time: the triangle packed from the whole converted copy.
        var single = c.Convert<float>();
        var a = TestMatrices.GaussianSingle(9, n, seed: 3);
        Assert.Equal(PackedLowerTriangular<float>.Pack(single).MultiplyRight(a).Data, PackedLowerTriangular<float>.Pack(c).MultiplyRight(a).Data);
    }

    /// <summary>
    /// fp32 with k ≤ n terms: each element is within n·2⁻²⁴·Σ|a||c| of the exact one (the GEMM's bound); 4× that
    /// is still far below a panel that skipped, repeated or misplaced rows (an O(1) relative error).
    /// </summary>
    private static double Tolerance(int n) => 4 * n * Math.Pow(2, -24);

    [Theory]
    [InlineData(5, 1)]
    [InlineData(64, 7)]
    [InlineData(13, 256)]   // one full panel
    [InlineData(64, 257)]   // a second panel of one column
    [InlineData(33, 600)]   // three panels, the last partial
    public void The_product_matches_fp64_within_the_GEMM_bound(int m, int n)
    {
        var a = TestMatrices.GaussianSingle(m, n, seed: m + n);
        var c = TestMatrices.GaussianSingle(n, n, seed: 2 * n + 1);
        for (int i = 0; i < n; i++) c.Row(i)[(i + 1)..].Clear();
        var packed = PackedLowerTriangular<float>.Pack(c, threads: 2);
        var y = packed.MultiplyRight(a, threads: 2);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double exact = 0, magnitude = 0;
                for (int k = j; k < n; k++)
                {
                    exact += (double)a[i, k] * c[k, j];
                    magnitude += Math.Abs((double)a[i, k] * c[k, j]);
                }
                Assert.True(Math.Abs(y[i, j] - exact) <= Tolerance(n) * magnitude + 1e-30, $"({i}, {j}): {y[i, j]} vs {exact}");
            }
    }

    [Fact]
    public void Leading_dimensions_wider_than_the_operands_are_honoured()
    {
        const int M = 9, N = 300, Lda = 310, Ldy = 305;
        var a = TestMatrices.GaussianSingle(M, Lda, seed: 3);
        var c = TestMatrices.GaussianSingle(N, N, seed: 4);
        for (int i = 0; i < N; i++) c.Row(i)[(i + 1)..].Clear();
        var packed = PackedLowerTriangular<float>.Pack(c);
        var y = new float[M * Ldy];
        y.AsSpan().Fill(float.NaN);
        packed.MultiplyRight(M, a.Data, Lda, y, Ldy);
        var dense = new Matrix<float>(M, N);
        for (int i = 0; i < M; i++) a.Row(i)[..N].CopyTo(dense.Row(i));
        var expected = packed.MultiplyRight(dense);
        for (int i = 0; i < M; i++)
        {
            Assert.Equal(expected.Row(i).ToArray(), y.AsSpan(i * Ldy, N).ToArray());
            Assert.All(y.AsSpan(i * Ldy + N, Ldy - N).ToArray(), v => Assert.True(float.IsNaN(v)));
        }
    }
}
