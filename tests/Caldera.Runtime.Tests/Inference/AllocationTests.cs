using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;
using Caldera.Runtime.Sampling;

namespace Caldera.Runtime.Tests.Inference;

[Collection(AllocationCollection.Name)]
public class AllocationTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Decoding_and_sampling_a_token_allocates_nothing(int threads)
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        using var transformer = new Transformer(model, new TransformerOptions { Threads = threads, ContextLength = 128 });
        var sampler = new Sampler(model.Config.VocabSize, new SamplingOptions { Temperature = 0.9f, TopP = 0.9f, TopK = 40, RepetitionPenalty = 1.1f, Seed = 3 });
        var context = new int[128];
        context[0] = 1;
        context[1] = sampler.Sample(transformer.Prefill(context.AsSpan(0, 1), 0), context.AsSpan(0, 1));
        // Warm-up: the first calls grow per-worker scratch buffers to the longest attention span measured after. The
        // positions wrap back to 1 at the end of the context, so windows after one that saw another thread's one-off
        // allocation stay inside it.
        int pos = 1;
        Assert.Equal(0, SteadyState.AllocatedBytes(() =>
        {
            var logits = transformer.Decode(context[pos], pos);
            int next = pos + 1 == context.Length ? 1 : pos + 1;
            context[next] = sampler.Sample(logits, context.AsSpan(0, pos + 1));
            pos = next;
        }, warmup: 64, window: 20));
    }

    [Theory]
    [InlineData(1, nameof(ClassifierPrecision.Int8))]
    [InlineData(2, nameof(ClassifierPrecision.Int8))]
    [InlineData(1, nameof(ClassifierPrecision.Int6))]
    [InlineData(2, nameof(ClassifierPrecision.Int6))]
    public void Decoding_a_token_with_a_quantised_classifier_allocates_nothing(int threads, string precisionName)
    {
        var precision = Enum.Parse<ClassifierPrecision>(precisionName);
        // tinystories-256d's 512×256 classifier is enough work to be split across two threads.
        using var model = ModelCheckpoint.Open(TestModels.TinyStories256dGguf);
        using var transformer = new Transformer(model, new TransformerOptions { Threads = threads, ContextLength = 64, ClassifierPrecision = precision });
        AssertSteadyDecodeAllocatesNothing(transformer, contextLength: 64);
    }

    [Fact]
    public void Decoding_a_token_of_a_compressed_model_allocates_nothing() => DecodeAllocatesNothing(int8: false);

    [Fact]
    public void Decoding_a_token_with_int8_arithmetic_allocates_nothing() => DecodeAllocatesNothing(int8: true);

    [Fact]
    public void Decoding_a_token_with_the_embedding_and_classifier_in_6bit_blocks_allocates_nothing() =>
        DecodeAllocatesNothing(int8: true, Compression.CaldInt6StorageTests.WithInt6Vocabulary);

    [Fact]
    public void Decoding_a_token_with_the_embedding_and_classifier_in_4bit_blocks_allocates_nothing() =>
        DecodeAllocatesNothing(int8: true, Compression.CaldInt4StorageTests.WithInt4Vocabulary);

    private static void DecodeAllocatesNothing(bool int8, Func<Caldera.Runtime.Compression.CompressedModelContent, Caldera.Runtime.Compression.CompressedModelContent>? vocabulary = null)
    {
        // Every storage kind (E8P with 4-bit and 16-bit factors, uniform Q, dense matrices). int8: the arithmetic
        // caldera run uses by default (int8 activations, L's planes built on the first step, 6-bit classifier).
        // vocabulary: the embedding rows decoded from 6- or 4-bit blocks and the classifier run on them in place.
        var content = Compression.SyntheticCompressed.Model();
        if (vocabulary != null) content = vocabulary(content);
        using var weights = new CompressedModelWeights(content);
        using var transformer = new Transformer(content.Config, binding => weights.Bind(binding),
            new TransformerOptions
            {
                Threads = 2, Int8Activations = int8, ClassifierPrecision = int8 ? ClassifierPrecision.Int6 : ClassifierPrecision.Stored,
            });
        AssertSteadyDecodeAllocatesNothing(transformer, content.Config.ContextLength);
    }

    /// <summary>
    /// After a prefill and five warm-up steps, windows of six decode steps allocate nothing on any thread. The positions
    /// wrap back to the first after the prompt before they pass the 16-token context: a window that saw another
    /// thread's one-off allocation is followed by more windows, which would otherwise run out of context.
    /// </summary>
    private static void AssertSteadyDecodeAllocatesNothing(Transformer transformer, int contextLength)
    {
        transformer.Prefill([1, 2, 3], 0);
        int pos = 3;
        Assert.Equal(0, SteadyState.AllocatedBytes(() =>
        {
            transformer.Decode(pos, pos);
            pos = pos + 1 == contextLength ? 3 : pos + 1;
        }, warmup: 5, window: 6));
    }
}
