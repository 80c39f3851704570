using Caldera.Runtime.Inference;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Tests.Kernels;
using Caldera.Runtime.Training.Arithmetic;

namespace Caldera.Runtime.Tests.Training;

/// <summary>
/// The products a training step runs equal, bit for bit, the plain loops that define their order: every element a
/// chain of one fused multiply-add per term in index order (zero coefficients skipped), at any thread count, on every
/// vector path.
/// </summary>
public class RowProductsTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Transposed_products_equal_the_row_by_row_loop_bit_for_bit(int threads)
    {
        using var pool = new WorkerPool(threads);
        var products = new RowProducts(pool);
        var random = new Random(23 + threads);
        foreach (var (rows, columns) in new[] { (5, 8), (13, 172), (7, 64), (33, 100), (3, 200), (16, 5632), (300, 70) })
            foreach (int tokens in new[] { 1, 3, 4, 9 })
            {
                float[] m = Values(random, rows * columns), d = Values(random, tokens * rows), x = Values(random, tokens * columns);
                for (int i = 0; i < d.Length; i += 5) d[i] = 0; // skipped terms
                var expected = (float[])x.Clone();
                for (int t = 0; t < tokens; t++)
                    for (int j = 0; j < columns; j++)
                        for (int i = 0; i < rows; i++)
                        {
                            float s = d[t * rows + i];
                            if (s != 0) expected[t * columns + j] = MathF.FusedMultiplyAdd(s, m[i * columns + j], expected[t * columns + j]);
                        }
                products.MultiplyTransposed(new FloatRows(m, rows, columns), d, x, tokens);
                Assert.True(expected.AsSpan().SequenceEqual(x), $"{rows}×{columns}, {tokens} tokens, {threads} threads");
            }
    }

    [Fact]
    public void Products_equal_one_fixed_order_dot_product_per_row_and_token()
    {
        using var pool = new WorkerPool(2);
        var products = new RowProducts(pool);
        var random = new Random(29);
        foreach (var (rows, columns) in new[] { (5, 8), (13, 172), (16, 64), (28, 9), (33, 100), (20, 2048) })
            foreach (int tokens in new[] { 1, 3, 4, 9, 37 })
            {
                float[] m = Values(random, rows * columns), u = Values(random, tokens * columns);
                var y = new float[tokens * rows];
                products.Multiply(new FloatRows(m, rows, columns), u, y, tokens);
                for (int t = 0; t < tokens; t++)
                    for (int i = 0; i < rows; i++)
                        Assert.Equal(FixedOrder.Dot(m.AsSpan(i * columns, columns), u.AsSpan(t * columns, columns)), y[t * rows + i]);
            }
    }

    [Fact]
    public void Weighted_row_sums_equal_the_row_by_row_loop_bit_for_bit_on_every_path()
    {
        var random = new Random(31);
        foreach (var path in (KernelPath[])[KernelPath.Scalar, .. KernelData.VectorPaths])
            foreach (var (rows, columns) in new[] { (1, 1), (5, 31), (7, 64), (9, 100), (32, 2048) })
                foreach (int tokens in new[] { 1, 4, 7 })
                {
                    // Strides wider than the slices, as the classifier's rows and the window's tokens are.
                    int mStride = columns + 3, dStride = rows + 2, xStride = columns + 5;
                    float[] m = Values(random, rows * mStride), d = Values(random, tokens * dStride), x = Values(random, tokens * xStride);
                    for (int i = 0; i < d.Length; i += 3) d[i] = 0;
                    var expected = (float[])x.Clone();
                    for (int t = 0; t < tokens; t++)
                        for (int j = 0; j < columns; j++)
                            for (int i = 0; i < rows; i++)
                            {
                                float s = d[t * dStride + i];
                                if (s != 0) expected[t * xStride + j] = MathF.FusedMultiplyAdd(s, m[i * mStride + j], expected[t * xStride + j]);
                            }
                    WeightedRowSums.Add(m, mStride, rows, d, dStride, x, xStride, tokens, columns, path);
                    Assert.True(expected.AsSpan().SequenceEqual(x), $"{path}: {rows}×{columns}, {tokens} tokens");
                }
    }

    private static float[] Values(Random random, int count) =>
        [.. Enumerable.Range(0, count).Select(_ => (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-2, 3))))];
}
