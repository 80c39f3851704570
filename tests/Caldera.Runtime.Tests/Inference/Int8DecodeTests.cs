using Caldera.Runtime.Inference;

namespace Caldera.Runtime.Tests.Inference;

public class Int8DecodeTests
{
    /// <summary>
    /// Per layer the int8 step adds at most max|u|/254 per entry of u (Int8Activations), ≈ 0.4 % of the output for
    /// these near-uniform activations; through two blocks and the classifier that stays well below 5 % of the logits' RMS.
    /// </summary>
    private const double RelativeLogitTolerance = 0.05;

    [Fact]
    public void TransformerOptions_Int8Activations_switches_decode_to_int8_within_the_quantisation_error()
    {
        var content = Compression.SyntheticCompressed.Model();
        using var weights = new CompressedModelWeights(content);
        using var exact = new Transformer(content.Config, binding => weights.Bind(binding), new TransformerOptions { Threads = 1 });
        using var int8 = new Transformer(content.Config, binding => weights.Bind(binding), new TransformerOptions { Threads = 1, Int8Activations = true });
        exact.Prefill([1, 2, 3], 0);
        int8.Prefill([1, 2, 3], 0);

        var expected = exact.Decode(4, 3).ToArray();
        var actual = int8.Decode(4, 3).ToArray();
        double difference = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            difference += (expected[i] - actual[i]) * (double)(expected[i] - actual[i]);
            norm += expected[i] * (double)expected[i];
        }
        Assert.True(difference > 0, "the int8 switch did not change the decode arithmetic");
        Assert.True(Math.Sqrt(difference / norm) < RelativeLogitTolerance, $"int8 logits are {Math.Sqrt(difference / norm):P2} off");
    }
}
