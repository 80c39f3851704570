using Caldera.Runtime.Inference;
using Caldera.Runtime.Training.Arithmetic;

namespace Caldera.Runtime.Tests.Training;

/// <summary>
/// The products a training step runs equal, bit for bit, the plain loops that define their order: every element a
/// chain of one multiply and one add per term in index order (zero coefficients skipped), at any thread count.
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
        foreach (var (rows, columns) in new[] { (5, 8), (13, 172), (7, 64), (33, 100), (3, 200) })
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
                            if (s != 0) expected[t * columns + j] += s * m[i * columns + j];
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
        foreach (var (rows, columns) in new[] { (5, 8), (13, 172), (33, 100) })
            foreach (int tokens in new[] { 1, 3, 4, 9 })
            {
                float[] m = Values(random, rows * columns), u = Values(random, tokens * columns);
                var y = new float[tokens * rows];
                products.Multiply(new FloatRows(m, rows, columns), u, y, tokens);
                for (int t = 0; t < tokens; t++)
                    for (int i = 0; i < rows; i++)
                        Assert.Equal(FixedOrder.Dot(m.AsSpan(i * columns, columns), u.AsSpan(t * columns, columns)), y[t * rows + i]);
            }
    }

    private static float[] Values(Random random, int count) =>
        [.. Enumerable.Range(0, count).Select(_ => (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-2, 3))))];
}
