using Caldera.Runtime.Compression;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;
using Caldera.Tests;

namespace Caldera.Runtime.Tests.Inference;

/// <summary>
/// <see cref="Transformer.DecodeSteps"/> runs one decode step each of several sequences together; every sequence must
/// get exactly the logits <see cref="Transformer.Decode"/> gives it alone, whichever sequences run beside it.
/// </summary>
public class DecodeStepsTests
{
    /// <summary>512 wide and FFN 1024: whole pairs of 256-level blocks, so Q·u of a batch takes <c>Int8CodedTile</c>'s register tile.</summary>
    internal static readonly LlamaConfig Wide = new()
    {
        Dim = 512, HiddenDim = 1024, LayerCount = 2, HeadCount = 8, KvHeadCount = 2, HeadDim = 64, VocabSize = 96, ContextLength = 48,
        TiedClassifier = false,
    };

    public static TheoryData<string, bool> Models => new()
    {
        { "wide", true }, { "wide", false }, { "every storage kind", true }, { "every storage kind", false },
    };

    /// <summary>The compressed model a <see cref="Models"/> name stands for.</summary>
    internal static CompressedModelContent Model(string name) =>
        name == "wide" ? SyntheticCompressedModel.Build(Wide, rank: 16) : Compression.SyntheticCompressed.Model();

    [Theory]
    [MemberData(nameof(Models))]
    public void A_batch_of_decode_steps_gives_every_sequence_the_logits_of_its_decode_step_alone(string model, bool int8)
    {
        var content = Model(model);
        var config = content.Config;
        using var weights = new CompressedModelWeights(content);
        var options = new TransformerOptions
        {
            Threads = 2, Int8Activations = int8, ClassifierPrecision = int8 ? ClassifierPrecision.Int6 : ClassifierPrecision.Stored,
            PrefillBatchSize = 4, DecodeStepsBatchSize = 5,
        };
        const int sequences = 5, steps = 6;
        var random = new Random(3);
        int[][] prompts = [.. Enumerable.Range(0, sequences).Select(i => Enumerable.Range(0, 1 + 2 * i).Select(_ => random.Next(config.VocabSize)).ToArray())];
        int[][] fed = [.. Enumerable.Range(0, sequences).Select(_ => Enumerable.Range(0, steps).Select(_ => random.Next(config.VocabSize)).ToArray())];

        // Alone: each sequence on a transformer of its own, prompt then one Decode per token.
        var alone = new float[sequences][][];
        for (int i = 0; i < sequences; i++)
        {
            using var transformer = new Transformer(config, binding => weights.Bind(binding), options);
            transformer.Prefill(prompts[i], 0);
            alone[i] = [.. fed[i].Select((token, k) => transformer.Decode(token, prompts[i].Length + k).ToArray())];
        }

        // Together: sequence i joins at step i and leaves after its own steps, so batches of 1 to 5 rows occur.
        using var batched = new Transformer(config, binding => weights.Bind(binding), options);
        var caches = Enumerable.Range(0, sequences).Select(_ => batched.NewCache()).ToArray();
        for (int i = 0; i < sequences; i++) batched.Prefill(caches[i], prompts[i], 0);
        var done = new int[sequences];
        int vocab = config.VocabSize;
        for (int step = 0; done.Any(d => d < steps); step++)
        {
            int[] rows = [.. Enumerable.Range(0, sequences).Where(i => i <= step && done[i] < steps)];
            var logits = new float[rows.Length * vocab];
            batched.DecodeSteps([.. rows.Select(i => fed[i][done[i]])], [.. rows.Select(i => prompts[i].Length + done[i])],
                [.. rows.Select(i => caches[i])], logits);
            for (int r = 0; r < rows.Length; r++)
            {
                int i = rows[r];
                Assert.True(alone[i][done[i]].AsSpan().SequenceEqual(logits.AsSpan(r * vocab, vocab)),
                    $"sequence {i}, step {done[i]}, in a batch of {rows.Length}: the logits differ from its decode step alone");
                done[i]++;
            }
        }
    }

    [Fact]
    public void A_batch_larger_than_the_transformer_was_built_for_is_refused()
    {
        var content = Compression.SyntheticCompressed.Model();
        using var weights = new CompressedModelWeights(content);
        using var transformer = new Transformer(content.Config, binding => weights.Bind(binding), new TransformerOptions { Threads = 1, DecodeStepsBatchSize = 2 });
        var caches = new[] { transformer.NewCache(), transformer.NewCache(), transformer.NewCache() };
        var error = Assert.Throws<ArgumentException>(() => transformer.DecodeSteps([1, 2, 3], [0, 0, 0], caches, new float[3 * content.Config.VocabSize]));
        Assert.Contains("1..2", error.Message);
    }
}
