using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tokenization;

namespace Caldera.Runtime.Tests.Inference;

public class TransformerTests
{
    /// <summary>
    /// Largest allowed |optimized − reference| on a logit. The reference accumulates in double; the
    /// optimized pass rounds every activation to float and sums in a different order, and computes RoPE
    /// angles in float like llama2.c. Over 5 blocks that moves stories260K's logits (|logit| up to ~20) by
    /// about 1e-5 measured; 1e-3 leaves headroom for reordering yet is far below what any real bug (a wrong
    /// pairing, head mapping, position or scale changes logits by 0.1 or more) would cause.
    /// </summary>
    private const float LogitTolerance = 1e-3f;

    private const int SequenceLength = 64;

    internal static int[] Sequence()
    {
        var tokenizer = ModelTokenizer.Load(TestModels.Tok512Model);
        string text = File.ReadAllText(TestModels.TinyStoriesText)[..2000];
        return tokenizer.Encode(text, addBos: true)[..SequenceLength];
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Decode_and_prefill_match_the_reference_forward_pass_on_every_logit(int threads)
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        AssertMatchesReference(model, threads, prefillBatch: 64);
    }

    [Theory]
    [InlineData(nameof(TensorType.F16), false)]
    [InlineData(nameof(TensorType.BF16), false)]
    [InlineData(nameof(TensorType.F32), true)]
    public void Other_weight_types_and_an_untied_classifier_match_the_reference(string typeName, bool untie)
    {
        var type = Enum.Parse<TensorType>(typeName);
        using var source = ModelCheckpoint.Open(TestModels.Stories260KBin);
        using var model = CheckpointVariants.Rebuild(source, source.Config with { TiedClassifier = !untie && source.Config.TiedClassifier }, type);
        AssertMatchesReference(model, threads: 2, prefillBatch: 64);
    }

    [Fact]
    public void Llama3_rope_scaling_and_chunked_prefill_match_the_reference()
    {
        using var source = ModelCheckpoint.Open(TestModels.Stories260KBin);
        // Theta and the original context chosen so all three bands of the llama3 rule hold some of the 4 pairs.
        var config = source.Config with { RopeTheta = 500000f, RopeScaling = new RopeScaling(8f, 1f, 4f, 64) };
        using var model = CheckpointVariants.Rebuild(source, config);
        AssertMatchesReference(model, threads: 2, prefillBatch: 5);
    }

    [Fact]
    public void Rotate_half_rows_give_the_same_logits_as_interleaved_rows()
    {
        using var source = ModelCheckpoint.Open(TestModels.Stories260KBin);
        var c = source.Config;
        using var rotateHalf = CheckpointVariants.Rebuild(source, c with { RopePairing = RopePairing.RotateHalf }, TensorType.F32,
            (name, values) => name.EndsWith("attn_q.weight", StringComparison.Ordinal) || name.EndsWith("attn_k.weight", StringComparison.Ordinal)
                ? CheckpointVariants.ToRotateHalf(values, c.HeadDim, c.Dim)
                : values);
        var tokens = Sequence();
        var expected = PrefillLogits(source, tokens, threads: 1, prefillBatch: 64);
        var actual = PrefillLogits(rotateHalf, tokens, threads: 1, prefillBatch: 64);
        // Same products and sums, only the rows of q and k are reordered before the same rotation: the
        // logits agree up to float rounding of the differently ordered attention sums.
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= LogitTolerance, $"logit {i}: {expected[i]} vs {actual[i]}");
        // and the permutation is not a no-op: with interleaved RoPE the same rows give other logits
        using var wrongPairing = CheckpointVariants.Rebuild(rotateHalf, c, TensorType.F32);
        var wrong = PrefillLogits(wrongPairing, tokens, threads: 1, prefillBatch: 64);
        Assert.Contains(Enumerable.Range(0, expected.Length), i => Math.Abs(expected[i] - wrong[i]) > 0.1f);
    }

    [Fact]
    public void Positions_past_the_context_and_unknown_tokens_are_rejected()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        using var transformer = new Transformer(model, new TransformerOptions { Threads = 1, ContextLength = 8 });
        Assert.Throws<ArgumentOutOfRangeException>(() => transformer.Decode(1, 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => transformer.Decode(512, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => transformer.Prefill([1, 2, 3], 6));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Transformer(model, new TransformerOptions { ContextLength = 513 }));
    }

    private static void AssertMatchesReference(ModelCheckpoint model, int threads, int prefillBatch)
    {
        var tokens = Sequence();
        var reference = new ReferenceTransformer(model).Run(tokens);
        int vocab = model.Config.VocabSize;

        using var transformer = new Transformer(model, new TransformerOptions { Threads = threads, PrefillBatchSize = prefillBatch });
        for (int pos = 0; pos < tokens.Length; pos++)
            AssertClose(reference[pos], transformer.Decode(tokens[pos], pos), $"decode, position {pos}");

        var all = PrefillLogits(model, tokens, threads, prefillBatch);
        for (int pos = 0; pos < tokens.Length; pos++)
            AssertClose(reference[pos], all.AsSpan(pos * vocab, vocab), $"prefill, position {pos}");

        using var again = new Transformer(model, new TransformerOptions { Threads = threads, PrefillBatchSize = prefillBatch });
        AssertClose(reference[^1], again.Prefill(tokens, 0), "prefill, last logits");
    }

    private static float[] PrefillLogits(ModelCheckpoint model, int[] tokens, int threads, int prefillBatch)
    {
        using var transformer = new Transformer(model, new TransformerOptions { Threads = threads, PrefillBatchSize = prefillBatch });
        var logits = new float[tokens.Length * model.Config.VocabSize];
        transformer.Prefill(tokens, 0, logits);
        return logits;
    }

    private static void AssertClose(float[] expected, ReadOnlySpan<float> actual, string where)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (!(Math.Abs(expected[i] - actual[i]) <= LogitTolerance))
                Assert.Fail($"{where}, token {i}: reference {expected[i]}, optimized {actual[i]}");
    }
}
