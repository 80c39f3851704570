using Caldera.Runtime.Training.Arithmetic;

namespace Caldera.Runtime.Tests.Training;

/// <summary>Training's sums depend only on the values: four dot products at once are each bit for bit the lone one.</summary>
public class FixedOrderTests
{
    [Fact]
    public void Four_dot_products_at_once_are_each_bit_for_bit_the_lone_dot_product()
    {
        var random = new Random(17);
        foreach (int n in new[] { 1, 7, 8, 9, 63, 64, 65, 172, 2048, 5632 })
        {
            // Values of mixed magnitudes, so that the order of the additions shows in the low bits.
            float[] Vector() => [.. Enumerable.Range(0, n).Select(i => (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-3, 4))))];
            float[] a = Vector(), b0 = Vector(), b1 = Vector(), b2 = Vector(), b3 = Vector();
            var (d0, d1, d2, d3) = FixedOrder.Dot4(a, b0, b1, b2, b3);
            Assert.Equal(FixedOrder.Dot(a, b0), d0);
            Assert.Equal(FixedOrder.Dot(a, b1), d1);
            Assert.Equal(FixedOrder.Dot(a, b2), d2);
            Assert.Equal(FixedOrder.Dot(a, b3), d3);
        }
    }

    [Fact]
    public void Four_dot_products_of_mismatched_lengths_are_refused() =>
        Assert.Throws<ArgumentException>(() => FixedOrder.Dot4(new float[8], new float[8], new float[8], new float[7], new float[8]));
}
