using System.Runtime.Intrinsics;
using Caldera.Runtime.Incoherence;

namespace Caldera.Runtime.Tests.Incoherence;

public class BlockMixingTests
{
    /// <summary>Float sums of K products of unit-scale Gaussians against a double reference.</summary>
    private const double ReferenceTolerance = 1e-4;

    [Theory]
    [InlineData(1, 16)]
    [InlineData(3, 8)]
    [InlineData(7, 1)]
    [InlineData(12, 16)]
    [InlineData(13, 32)]   // a row remainder after the 4-row steps
    [InlineData(43, 4)]    // stories260K's 172 = 43·4
    [InlineData(44, 128)]  // 5632
    [InlineData(344, 32)]  // 11008
    public void Vector_paths_equal_the_scalar_path_and_the_scalar_path_is_the_product(int k, int p)
    {
        var random = new Random(k * 1000 + p);
        float[] m = TestData.Gaussian(random, k * k), x = TestData.Gaussian(random, k * p);
        var expected = new float[k * p];
        BlockMixing.MultiplyScalar(m, k, x, p, expected);
        for (int a = 0; a < k; a++)
            for (int b = 0; b < p; b++)
            {
                double sum = 0;
                for (int j = 0; j < k; j++) sum += (double)m[a * k + j] * x[j * p + b];
                Assert.Equal(sum, expected[a * p + b], ReferenceTolerance * Math.Sqrt(k));
            }
        if (p % 4 == 0)
        {
            // The portable path (Arm's), tested on every machine.
            var y = new float[k * p];
            BlockMixing.MultiplyVector128(m, k, x, p, y);
            Assert.Equal(expected, y);
        }
        if (Vector256.IsHardwareAccelerated && p % 8 == 0)
        {
            var y = new float[k * p];
            BlockMixing.MultiplyVector256(m, k, x, p, y);
            Assert.Equal(expected, y);
        }
        if (Vector512.IsHardwareAccelerated && p % 16 == 0)
        {
            var y = new float[k * p];
            BlockMixing.MultiplyVector512(m, k, x, p, y);
            Assert.Equal(expected, y);
        }
        var dispatched = new float[k * p];
        BlockMixing.Multiply(m, k, x, p, dispatched);
        Assert.Equal(expected, dispatched);
    }
}
