using Caldera.Runtime.Compression;
using Caldera.Runtime.Tests.Compression;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Tests.Inference;

/// <summary>
/// <see cref="Transformer.PrepareDecodeInBackground"/> builds the int8 L planes ahead of the first pass that reads them;
/// it may only move that work, never change a logit or outlive the weights it reads.
/// </summary>
public class PrepareDecodeTests
{
    [Fact]
    public void Planes_built_in_the_background_give_the_logits_of_planes_built_by_the_first_pass()
    {
        var content = DecodeStepsTests.Model("wide");
        var config = content.Config;
        using var weights = new CompressedModelWeights(content);
        var options = new TransformerOptions { Threads = 2, Int8Activations = true, ClassifierPrecision = ClassifierPrecision.Int6 };
        var random = new Random(5);
        int[] prompt = [.. Enumerable.Range(0, 2).Select(_ => random.Next(config.VocabSize))];
        int next = random.Next(config.VocabSize);

        (float[] Prompt, float[] Step) Run(bool prepare)
        {
            using var transformer = new Transformer(config, binding => weights.Bind(binding), options);
            if (prepare) transformer.PrepareDecodeInBackground();
            var cache = transformer.NewCache();
            float[] afterPrompt = transformer.Prefill(cache, prompt, 0).ToArray();
            float[] afterStep = transformer.Prefill(cache, [next], prompt.Length).ToArray();
            return (afterPrompt, afterStep);
        }

        var inLine = Run(prepare: false);
        for (int run = 0; run < 3; run++)
        {
            var ahead = Run(prepare: true);
            Assert.True(inLine.Prompt.AsSpan().SequenceEqual(ahead.Prompt), "the prompt's logits differ");
            Assert.True(inLine.Step.AsSpan().SequenceEqual(ahead.Step), "the decode step's logits differ");
        }
    }

    [Fact]
    public void Disposing_a_transformer_waits_for_its_background_build()
    {
        var content = DecodeStepsTests.Model("wide");
        using var weights = new CompressedModelWeights(content);
        var transformer = new Transformer(content.Config, binding => weights.Bind(binding), new TransformerOptions { Threads = 1, Int8Activations = true });
        transformer.PrepareDecodeInBackground();
        var build = transformer.DecodePreparation;
        Assert.NotNull(build);
        transformer.Dispose();
        Assert.True(build.IsCompleted, "the build still reads the weights after the transformer is disposed");
        Assert.Null(build.Exception);
    }

    [Fact]
    public void Threads_that_ask_for_planes_together_get_one_build()
    {
        var data = SyntheticCompressed.Matrix("m", 512, 256, 16, transforms: false, seed: 3);
        var planes = new LowRankPlanes(data);
        var built = new byte[8][];
        Parallel.For(0, built.Length, i => built[i] = i % 2 == 0 ? planes.Build() : planes.Planes);
        Assert.All(built, p => Assert.Same(built[0], p));
        var expected = new byte[Int8LowRank.PlaneLength(data.Rows, data.Rank)];
        Int8LowRank.Build(data.LTransposedCodes.Span, data.Rows, data.Rank, expected);
        Assert.Equal(expected, built[0]);
    }
}
