using Caldera.Compiler.Quantizers;

namespace Caldera.Compiler.Tests.Quantizers;

public class UniformQuantizerTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(8)]
    public void Values_on_the_grid_quantize_exactly(int bits)
    {
        var quantizer = new UniformQuantizer(bits);
        const float step = 0.0371f;
        var random = new Random(bits);
        var x = new float[500];
        for (int i = 0; i < x.Length; i++) x[i] = random.Next(-quantizer.MaxLevel, quantizer.MaxLevel + 1) * step;
        x[0] = quantizer.MaxLevel * step; // pins absmax to the top level
        float derivedStep = quantizer.StepFor(x);
        var q = new float[x.Length];
        var codes = new ushort[x.Length];
        quantizer.Quantize(x, derivedStep, q, codes);
        Assert.Equal(x, q);
        var decoded = new float[x.Length];
        quantizer.Dequantize(codes, derivedStep, decoded);
        Assert.Equal(x, decoded);
        Assert.All(codes, c => Assert.InRange(c, 0, 2 * quantizer.MaxLevel));
    }

    [Fact]
    public void Off_grid_values_round_to_nearest_level_with_ties_to_even()
    {
        var quantizer = new UniformQuantizer(4); // levels −7…7, step 1 for absmax 7
        float[] x = { 7f, 0.49f, 0.5f, 1.5f, 2.5f, -2.5f, -6.6f, 3.2f };
        var q = new float[x.Length];
        quantizer.Quantize(x, quantizer.StepFor(x), q, new ushort[x.Length]);
        Assert.Equal(new[] { 7f, 0f, 0f, 2f, 2f, -2f, -7f, 3f }, q);
    }

    [Fact]
    public void Error_is_at_most_half_a_step_and_all_zero_input_stays_zero()
    {
        var quantizer = new UniformQuantizer(4);
        float[] x = TestData.Gaussian(new Random(9), 4096);
        float step = quantizer.StepFor(x);
        var q = new float[x.Length];
        quantizer.Quantize(x, step, q, new ushort[x.Length]);
        for (int i = 0; i < x.Length; i++) Assert.True(MathF.Abs(x[i] - q[i]) <= step / 2 * (1 + 1e-6f), $"entry {i}: {x[i]} → {q[i]}");
        Assert.Equal(15, q.Distinct().Count());

        var zeros = new float[16];
        Assert.Equal(0f, quantizer.StepFor(zeros));
        var qz = new float[16];
        quantizer.Quantize(zeros, 0f, qz, new ushort[16]);
        Assert.All(qz, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Bad_settings_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new UniformQuantizer(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new UniformQuantizer(17));
        Assert.Throws<ArgumentException>(() => new UniformQuantizer(4).StepFor(new[] { 1f, float.NaN }));
        Assert.Throws<ArgumentException>(() => new UniformQuantizer(2).Dequantize(new ushort[] { 3 }, 1f, new float[1]));
    }
}
