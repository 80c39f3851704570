using Caldera.Runtime.Inference;
using Caldera.Runtime.Tokenization;

namespace Caldera.Cli.Tests;

/// <summary>
/// Greedy decoding as `caldera run --temperature 0` does it (the prompt prefilled, then one token at a time), noting the
/// first step whose two largest logits are closer than <see cref="NearTie"/>: from there the argmax may go either way
/// on a CPU whose vector width sums in another order, so text after it is not the same on every machine.
/// </summary>
internal static class GreedyTrace
{
    /// <summary>
    /// Logits of one model differ between vector widths by rounding only: below 10⁻⁵ of the largest logit in float
    /// (PrefillDecodeTests measures 5·10⁻⁷ between GEMM and matrix-vector order) and by the float parts' rounding in
    /// the integer path. A top-two gap of 0.01 (logits here are of order 10) is a thousand times that.
    /// </summary>
    public const float NearTie = 0.01f;

    /// <summary>The text up to (not including) the token chosen at the first near tie, and how many tokens came before it.</summary>
    public static (string Text, int Steps) TextBeforeFirstNearTie(Transformer transformer, ModelTokenizer tokenizer, string prompt, int steps) =>
        TextBeforeFirstNearTie(transformer, tokenizer, prompt, steps, NearTie);

    /// <summary>As above, with a near tie being a top-two gap below <paramref name="nearTie"/>.</summary>
    public static (string Text, int Steps) TextBeforeFirstNearTie(Transformer transformer, ModelTokenizer tokenizer, string prompt, int steps, float nearTie)
    {
        var ids = new List<int>(tokenizer.Encode(prompt, addBos: true));
        var logits = transformer.Prefill(ids.ToArray(), 0);
        while (ids.Count < steps)
        {
            var (best, gap) = TopTwo(logits);
            if (gap < nearTie || tokenizer.EosIds.Contains(best)) break;
            ids.Add(best);
            logits = transformer.Decode(best, ids.Count - 1);
        }
        return (tokenizer.Decode(ids), ids.Count);
    }

    private static (int Best, float Gap) TopTwo(ReadOnlySpan<float> logits)
    {
        int best = 0;
        float first = float.NegativeInfinity, second = float.NegativeInfinity;
        for (int i = 0; i < logits.Length; i++)
        {
            if (logits[i] > first) (second, first, best) = (first, logits[i], i);
            else if (logits[i] > second) second = logits[i];
        }
        return (best, first - second);
    }
}
