using Caldera.Runtime.Inference;

namespace Caldera.Runtime.Tests.Inference;

/// <summary>
/// Prompt caching (<see cref="CalderaModelOptions.PromptCaching"/>) reuses the positions an earlier prompt batch made and
/// prefills the rest in batches of its own; that is the same as prefilling the whole prompt fresh only if a token's
/// arithmetic in a batch of two or more does not depend on where the batch starts or how long it is.
/// </summary>
public class PromptBatchesTests
{
    [Theory]
    [MemberData(nameof(DecodeStepsTests.Models), MemberType = typeof(DecodeStepsTests))]
    public void A_prompt_split_into_batches_of_two_or_more_tokens_anywhere_gives_the_logits_of_one_batch(string model, bool int8)
    {
        var content = DecodeStepsTests.Model(model);
        var config = content.Config;
        using var weights = new CompressedModelWeights(content);
        var options = new TransformerOptions
        {
            Threads = 2, Int8Activations = int8, ClassifierPrecision = int8 ? ClassifierPrecision.Int6 : ClassifierPrecision.Stored,
            PrefillBatchSize = 64,
        };
        var random = new Random(11);
        int[] prompt = [.. Enumerable.Range(0, Math.Min(21, config.ContextLength)).Select(_ => random.Next(config.VocabSize))];
        using var transformer = new Transformer(config, binding => weights.Bind(binding), options);
        float[] whole = transformer.Prefill(transformer.NewCache(), prompt, 0).ToArray();
        foreach (int split in new[] { 2, 3, 8, 13, 19 }.Where(k => k <= prompt.Length - 2))
        {
            var cache = transformer.NewCache();
            transformer.Prefill(cache, prompt.AsSpan(0, split), 0);
            // The first part's logits are not needed; the tail is a batch of its own that starts at the split.
            float[] parts = transformer.Prefill(cache, prompt.AsSpan(split), split).ToArray();
            Assert.True(whole.AsSpan().SequenceEqual(parts), $"split at {split}: the logits differ from one batch's");
        }
    }
}
