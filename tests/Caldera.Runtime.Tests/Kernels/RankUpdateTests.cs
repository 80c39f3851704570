using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Tests.Kernels;

public class RankUpdateTests
{
    /// <summary>k fused multiply-adds per entry, each rounding once: ε per term of Σ|term| (plus the start value).</summary>
    private const double RelativeTolerancePerTerm = 1.2e-7 * 2;

    [Fact]
    public void Every_path_sums_each_entry_in_rank_order_bit_for_bit_and_matches_the_dense_product()
    {
        var random = new Random(51);
        foreach (int length in new[] { 1, 8, 15, 16, 17, 64, 136, 704 })
            foreach (int rank in new[] { 1, 3, 64 })
                foreach (int n in new[] { 1, 3, 4, 7, 64 })
                {
                    int stride = length + 5; // a slice of a wider output
                    var l = Floats(random, rank * length);
                    var a = Floats(random, n * rank);
                    var y0 = Floats(random, (n - 1) * stride + length);
                    var expected = (float[])y0.Clone();
                    RankUpdate.Add(l, length, a, n, expected, stride, KernelPath.Scalar);
                    for (int t = 0; t < n; t++)
                        for (int i = 0; i < length; i++)
                        {
                            double exact = y0[t * stride + i], magnitude = Math.Abs(exact);
                            for (int r = 0; r < rank; r++)
                            {
                                exact += (double)l[r * length + i] * a[t * rank + r];
                                magnitude += Math.Abs((double)l[r * length + i] * a[t * rank + r]);
                            }
                            Assert.True(Math.Abs(expected[t * stride + i] - exact) <= RelativeTolerancePerTerm * (rank + 1) * magnitude,
                                $"{length}×{rank}, n={n}: token {t} row {i}");
                        }
                    foreach (var path in KernelData.VectorPaths)
                    {
                        var y = (float[])y0.Clone();
                        RankUpdate.Add(l, length, a, n, y, stride, path);
                        Assert.True(expected.AsSpan().SequenceEqual(y), $"{path} {length}×{rank}, n={n}");
                    }
                }
    }

    [Fact]
    public void Mismatched_shapes_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => RankUpdate.Add(new float[6], 3, new float[5], 2, new float[6], 3));
        Assert.Throws<ArgumentException>(() => RankUpdate.Add(new float[7], 3, new float[4], 2, new float[6], 3));
        Assert.Throws<ArgumentException>(() => RankUpdate.Add(new float[6], 3, new float[4], 2, new float[5], 3));
    }

    private static float[] Floats(Random random, int count) =>
        Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
}
