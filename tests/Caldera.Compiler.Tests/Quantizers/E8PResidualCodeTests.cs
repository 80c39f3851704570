using Caldera.Compiler.Quantizers;

namespace Caldera.Compiler.Tests.Quantizers;

public class E8PResidualCodeTests
{
    /// <summary>
    /// Two greedy stages with gain 3.45 should cut the E8P squared error by roughly 3.45² ≈ 12; demanding a
    /// factor of 6 leaves room for the greedy loss while failing for any broken second stage.
    /// </summary>
    private const double RequiredErrorReduction = 6;

    [Fact]
    public void Residual_code_error_is_far_below_E8P_error_on_Gaussian_data()
    {
        float[] x = TestData.Gaussian(new Random(11), 8 * 2000);
        var e8p = new float[x.Length];
        var residual = new float[x.Length];
        E8PCodebook.QuantizeRow(x, e8p, new ushort[x.Length / 8]);
        E8PResidualCode.QuantizeRow(x, residual, new ushort[x.Length / 4]);
        double e8pError = TestData.SquaredDistance(x, e8p) / x.Length;
        double residualError = TestData.SquaredDistance(x, residual) / x.Length;
        Assert.True(residualError * RequiredErrorReduction < e8pError, $"E8P MSE {e8pError:F5}, residual MSE {residualError:F5}");
    }

    [Theory]
    [InlineData(8 * 37)]
    [InlineData(8 * 37 + 5)]
    public void Row_rounding_equals_rounding_each_vector_alone(int length)
    {
        // The row path searches both stages batched (16 vectors per class search); every search is exact, so the
        // words and values must be those of one vector at a time.
        float[] x = TestData.Gaussian(new Random(length), length);
        var q = new float[length];
        var words = new ushort[2 * E8PCodebook.VectorCount(length)];
        E8PResidualCode.QuantizeRow(x, q, words);
        for (int start = 0, v = 0; start < length; start += 8, v++)
        {
            int width = Math.Min(8, length - start);
            var alone = new float[width];
            var pair = new ushort[2];
            E8PResidualCode.QuantizeRow(x.AsSpan(start, width), alone, pair);
            Assert.Equal(pair, words.AsSpan(2 * v, 2).ToArray());
            Assert.Equal(alone, q.AsSpan(start, width).ToArray());
        }
    }

    [Fact]
    public void Second_stage_rounds_the_scaled_first_stage_residual()
    {
        var random = new Random(2);
        Span<float> q = stackalloc float[8], first = stackalloc float[8], second = stackalloc float[8], decoded = stackalloc float[8];
        var residual = new float[8];
        for (int trial = 0; trial < 200; trial++)
        {
            float[] x = TestData.Gaussian(random, 8);
            uint code = E8PResidualCode.Quantize(x, q);
            Assert.Equal(E8PCodebook.Quantize(x, first), (ushort)(code & 0xFFFF));
            for (int i = 0; i < 8; i++) residual[i] = E8PResidualCode.ResidualScale * (x[i] - first[i]);
            Assert.Equal(E8PCodebook.Quantize(residual, second), (ushort)(code >> 16));
            E8PResidualCode.Decode(code, decoded);
            Assert.True(q.SequenceEqual(decoded), "Decode(code) differs from the values Quantize wrote");
            for (int i = 0; i < 8; i++) Assert.Equal(first[i] + second[i] / E8PResidualCode.ResidualScale, q[i], 6);
        }
    }

    [Fact]
    public void Row_with_partial_last_vector_decodes_to_what_was_written()
    {
        float[] x = TestData.Gaussian(new Random(4), 172);
        var q = new float[172];
        var words = new ushort[2 * 22];
        E8PResidualCode.QuantizeRow(x, q, words);
        var decoded = new float[172];
        E8PResidualCode.DecodeRow(words, decoded);
        Assert.Equal(q, decoded);
        Assert.True(TestData.SquaredDistance(x.AsSpan(168), q.AsSpan(168)) < 0.1, "the partial last vector was not rounded near its values");
    }
}
