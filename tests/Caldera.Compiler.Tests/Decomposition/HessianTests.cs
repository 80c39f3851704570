using Caldera.Compiler.Decomposition;

namespace Caldera.Compiler.Tests.Decomposition;

public class HessianTests
{
    /// <summary>
    /// The compressor keeps a block's Hessians as <see cref="Hessian.RegularizedSingle"/>; the decomposition's codes stay
    /// the same only if that is, bit for bit, the fp64 path's Regularize(SecondMoment()) rounded to fp32.
    /// </summary>
    [Theory]
    [InlineData(8, 3)]
    [InlineData(172, 64)]
    [InlineData(256, 1000)]
    public void The_fp32_regularized_Hessian_is_the_fp64_one_rounded_bit_for_bit(int dimension, int tokens)
    {
        var random = new Random(dimension);
        var h = new Hessian(dimension);
        for (int batch = 0; batch < 3; batch++)
        {
            var x = new float[tokens * dimension];
            // Heavy and dead channels, as real activations have: scales from 0 to 1000.
            for (int i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 2 - 1) * (i % dimension == 1 ? 0 : i % 7 == 0 ? 1000 : 1);
            h.Add(x, tokens);
        }

        var expected = Hessian.Regularize(h.SecondMoment(), 0.01).Convert<float>();
        var actual = h.RegularizedSingle(0.01);

        Assert.Equal(expected.Data.Select(BitConverter.SingleToInt32Bits), actual.Data.Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void A_Hessian_of_zero_inputs_is_refused()
    {
        var h = new Hessian(4);
        h.Add(new float[8], 2);

        Assert.Throws<ArgumentException>(() => h.RegularizedSingle(0.01));
        Assert.Equal(0, h.SumTrace());
    }
}
