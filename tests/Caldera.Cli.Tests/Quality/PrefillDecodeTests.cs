using Caldera.Compiler.Evaluation;
using Caldera.Runtime.Inference;

namespace Caldera.Cli.Tests.Quality;

/// <summary>
/// A compressed model gives the same next-token logits whether a prompt is prefilled in one batch (GEMM, the integer
/// tiles) or decoded token by token (matrix-vector kernels), on tinystories-256d, whose 256 and 768-wide inputs fill
/// every 256-wide int8 block.
/// </summary>
public sealed class PrefillDecodeTests
{
    private const int Tokens = 64;

    /// <summary>
    /// Float: both runs compute the same sums in different orders (GEMM tiles against one dot product per row). One
    /// fp32 dot product of length n errs by at most γₙ ≈ n·u relative to the sum of its terms' magnitudes (u = 2⁻²⁴,
    /// n ≤ 768: 4.6·10⁻⁵), and rounding errors of independent orders mostly cancel through the blocks: measured 4·10⁻⁷
    /// of the largest |logit|. 10⁻⁴, about twice one dot product's worst case, fails any real difference between the
    /// paths, which moves logits by whole percent.
    /// </summary>
    private const float FloatTolerance = 1e-4f;

    [Fact]
    public void Float_prefill_equals_token_by_token_decode_within_rounding()
    {
        var (prefill, decode, vocab) = Run(int8: false);
        double worst = 0;
        int at = 0;
        for (int t = 0; t < Tokens; t++)
        {
            var p = prefill.AsSpan(t * vocab, vocab);
            var d = decode.AsSpan(t * vocab, vocab);
            float largest = 0, difference = 0;
            for (int i = 0; i < vocab; i++)
            {
                largest = Math.Max(largest, Math.Abs(p[i]));
                difference = Math.Max(difference, Math.Abs(p[i] - d[i]));
            }
            if (difference / largest > worst) (worst, at) = (difference / largest, t);
        }
        Assert.True(worst <= FloatTolerance, $"at position {at} the logits differ by {worst:E2} of the largest |logit| (tolerance {FloatTolerance:E0})");
    }

    /// <summary>
    /// Int8: a batch gives every token of a compressed matrix its decode step's integer sums (the Q and R tiles, L's
    /// planes), and on this model the attention and the rest of the block agree too: the logits are the same bits.
    /// </summary>
    [Fact]
    public void Int8_prefill_is_token_by_token_decode_bit_for_bit()
    {
        var (prefill, decode, vocab) = Run(int8: true);
        for (int t = 0; t < Tokens; t++)
            Assert.True(prefill.AsSpan(t * vocab, vocab).SequenceEqual(decode.AsSpan(t * vocab, vocab)), $"position {t}: the batch's logits are not its decode steps'");
    }

    /// <summary>
    /// What the int8 evaluation (<c>caldera eval --int8</c>) relies on to prefill its chunks in batches: its scores are the
    /// same bits as those of the same chunks run one token at a time.
    /// </summary>
    [Fact]
    public void Int8_evaluation_scores_batched_chunks_as_their_decode_steps()
    {
        using var model = CaldModelFormat.Instance.Open(GuardModels.TinyStories256dRank8, tokenizerPath: null);
        int[] tokens = model.Tokenizer!.Encode(TinyStoriesSplit.HeldOutSlice(6_000), addBos: true);
        int bos = model.Tokenizer.BosId;
        var batched = QualityEvaluator.Evaluate(o => model.Open(o), null, tokens, Tokens, bos, threads: 2, int8Decode: true);
        var stepwise = QualityEvaluator.Evaluate(o => model.Open(o with { PrefillBatchSize = 1 }), null, tokens, Tokens, bos, threads: 2, int8Decode: true);
        Assert.True(batched.Chunks >= 4, $"{batched.Chunks} chunks");
        Assert.Equal(stepwise.Perplexity, batched.Perplexity);
        Assert.Equal(stepwise.PerplexityStandardError, batched.PerplexityStandardError);
    }

    /// <summary>The logits of every position of the held-out text's first <see cref="Tokens"/> tokens, batched and one at a time.</summary>
    private static (float[] Prefill, float[] Decode, int Vocab) Run(bool int8)
    {
        using var model = CaldModelFormat.Instance.Open(GuardModels.TinyStories256dRank8, tokenizerPath: null);
        int[] tokens = model.Tokenizer!.Encode(TinyStoriesSplit.HeldOutSlice(2_000), addBos: true)[..Tokens];
        var options = new TransformerOptions { Threads = 2, ContextLength = Tokens, PrefillBatchSize = Tokens, Int8Activations = int8 };
        int vocab = model.Config.VocabSize;
        var prefill = new float[Tokens * vocab];
        using (var batched = model.Open(options)) batched.Prefill(tokens, 0, prefill);
        var decode = new float[Tokens * vocab];
        using (var stepwise = model.Open(options))
            for (int t = 0; t < Tokens; t++)
                stepwise.Decode(tokens[t], t).CopyTo(decode.AsSpan(t * vocab, vocab));
        Assert.Contains(prefill, v => v != 0);
        return (prefill, decode, vocab);
    }
}
