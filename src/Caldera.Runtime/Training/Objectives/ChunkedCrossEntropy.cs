using Caldera.Runtime.Training.Arithmetic;

namespace Caldera.Runtime.Training.Objectives;

/// <summary>
/// Cross-entropy of the classifier's logits against targets, with its gradient, without ever holding a token's whole
/// logit row: logits are computed one vocabulary row at a time, first for a running log-sum-exp, then again for the
/// gradient, so memory is independent of the vocabulary (T × V logits are never stored).
///   ℓ_t = lse(W·h_t) − Σ_v q_tv·(W·h_t)_v,    dh_t = weight·Wᵀ·(softmax(W·h_t) − q_t)
/// q_t is one-hot on the next token (<see cref="NextToken"/>) or a teacher's softmax (distillation, see
/// <see cref="SoftTargets"/>). Tokens are taken in blocks so that each classifier row read from memory serves a block.
/// </summary>
internal static class ChunkedCrossEntropy
{
    /// <summary>Tokens per item: one classifier row is reused across them while it is in cache.</summary>
    public const int TokenBlock = 8;

    /// <summary>
    /// Σ_t ℓ_t over T tokens for one-hot targets, and dh = <paramref name="weight"/>·∂/∂h (overwritten)
    ///   h, dh: T × dim; classifier: vocab × dim.
    /// </summary>
    public static double NextToken(RowProducts products, float[] classifier, int vocab, float[] h, ReadOnlySpan<int> targets,
        float weight, float[] dh)
    {
        var t = targets.ToArray();
        return Run(products, classifier, vocab, h, t.Length, weight, dh, (token, v) => v == t[token] ? 1f : 0f, token => t[token]);
    }

    /// <summary>
    /// As <see cref="NextToken"/> with soft targets q (the teacher's probabilities), given per token as their logits'
    /// rows through <paramref name="targets"/>.
    /// </summary>
    public static double SoftTargets(RowProducts products, float[] classifier, int vocab, float[] h, SoftTargets targets,
        float weight, float[] dh) =>
        Run(products, classifier, vocab, h, targets.Tokens, weight, dh, targets.Probability, null);

    private static double Run(RowProducts products, float[] classifier, int vocab, float[] h, int tokens, float weight, float[] dh,
        Func<int, int, float> target, Func<int, int>? hardTarget)
    {
        int d = classifier.Length / vocab, blocks = (tokens + TokenBlock - 1) / TokenBlock;
        var losses = new double[blocks];
        ParallelLoop.For(products.Pool, blocks, 3L * vocab * d * TokenBlock, (block, _) =>
        {
            int first = block * TokenBlock, count = Math.Min(TokenBlock, tokens - first);
            Span<float> max = stackalloc float[TokenBlock], sum = stackalloc float[TokenBlock], expected = stackalloc float[TokenBlock];
            max.Fill(float.NegativeInfinity);
            sum.Clear();
            expected.Clear();
            Span<float> logits = stackalloc float[TokenBlock];
            for (int v = 0; v < vocab; v++)
            {
                var row = classifier.AsSpan(v * d, d);
                Logits(row, h, d, first, count, logits);
                for (int i = 0; i < count; i++)
                {
                    int t = first + i;
                    float logit = logits[i];
                    // Running log-sum-exp: sum holds Σ e^(logit − max) over the rows so far.
                    if (logit > max[i])
                    {
                        sum[i] = sum[i] * MathF.Exp(max[i] - logit) + 1f;
                        max[i] = logit;
                    }
                    else sum[i] += MathF.Exp(logit - max[i]);
                    if (hardTarget is null) expected[i] += target(t, v) * logit;
                    else if (hardTarget(t) == v) expected[i] = logit;
                }
            }
            double loss = 0;
            Span<float> lse = stackalloc float[TokenBlock];
            for (int i = 0; i < count; i++)
            {
                lse[i] = max[i] + MathF.Log(sum[i]);
                loss += (double)lse[i] - expected[i];
                dh.AsSpan((first + i) * d, d).Clear();
            }
            for (int v = 0; v < vocab; v++)
            {
                var row = classifier.AsSpan(v * d, d);
                Logits(row, h, d, first, count, logits);
                for (int i = 0; i < count; i++)
                {
                    int t = first + i;
                    float logit = logits[i];
                    float g = weight * (MathF.Exp(logit - lse[i]) - target(t, v));
                    FixedOrder.AddScaled(dh.AsSpan(t * d, d), g, row);
                }
            }
            losses[block] = loss;
        });
        double total = 0;
        foreach (double loss in losses) total += loss;
        return total;
    }

    /// <summary>The logits ⟨row, h_t⟩ of tokens first..first+count−1, four dot products at a time (each bit for bit <see cref="FixedOrder.Dot"/>).</summary>
    private static void Logits(ReadOnlySpan<float> row, float[] h, int d, int first, int count, Span<float> logits)
    {
        int i = 0;
        for (; i + 4 <= count; i += 4)
        {
            int t = first + i;
            (logits[i], logits[i + 1], logits[i + 2], logits[i + 3]) =
                FixedOrder.Dot4(row, h.AsSpan(t * d, d), h.AsSpan((t + 1) * d, d), h.AsSpan((t + 2) * d, d), h.AsSpan((t + 3) * d, d));
        }
        for (; i < count; i++) logits[i] = FixedOrder.Dot(row, h.AsSpan((first + i) * d, d));
    }
}
