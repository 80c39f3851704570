using System.Numerics;
using System.Runtime.Intrinsics;
using Caldera.Runtime.Incoherence;

namespace Caldera.Runtime.Tests.Incoherence;

public class WalshHadamardTests
{
    public static TheoryData<int> Lengths => new() { 1, 2, 4, 8, 16, 32, 64, 128, 1024, 4096, 16384 };

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Vector_paths_equal_the_scalar_path_bit_for_bit(int length)
    {
        float[] x = TestData.Gaussian(new Random(length), length);
        var expected = (float[])x.Clone();
        WalshHadamard.TransformScalar(expected);
        if (length >= 4)
        {
            // The portable path runs everywhere (emulated where 128-bit vectors are not accelerated): Arm's path, tested here.
            var v128 = (float[])x.Clone();
            WalshHadamard.TransformVector128(v128);
            Assert.Equal(expected, v128);
        }
        if (Vector256.IsHardwareAccelerated && length >= 8)
        {
            var v256 = (float[])x.Clone();
            WalshHadamard.TransformVector256(v256);
            Assert.Equal(expected, v256);
        }
        if (Vector512.IsHardwareAccelerated && length >= 16)
        {
            var v512 = (float[])x.Clone();
            WalshHadamard.TransformVector512(v512);
            Assert.Equal(expected, v512);
        }
        var dispatched = (float[])x.Clone();
        WalshHadamard.Transform(dispatched);
        Assert.Equal(expected, dispatched);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(8)]
    [InlineData(32)]
    [InlineData(128)]
    public void Scalar_path_is_the_Sylvester_matrix(int length)
    {
        float[] x = TestData.Gaussian(new Random(3), length);
        var y = (float[])x.Clone();
        WalshHadamard.TransformScalar(y);
        for (int i = 0; i < length; i++)
        {
            double expected = 0;
            for (int j = 0; j < length; j++) expected += (BitOperations.PopCount((uint)(i & j)) % 2 == 0 ? 1 : -1) * (double)x[j];
            Assert.Equal(expected, y[i], 1e-4);
        }
    }

    [Fact]
    public void Non_power_of_two_length_is_rejected()
    {
        Assert.Throws<ArgumentException>(() => WalshHadamard.Transform(new float[12]));
        Assert.Throws<ArgumentException>(() => WalshHadamard.Transform(Span<float>.Empty));
    }
}
