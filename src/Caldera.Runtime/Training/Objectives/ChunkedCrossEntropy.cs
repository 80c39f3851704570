using Caldera.Runtime.Training.Arithmetic;

namespace Caldera.Runtime.Training.Objectives;

/// <summary>
/// Cross-entropy of the classifier's logits against targets, with its gradient, without ever holding the window's
/// logits: a block of <see cref="TokenBlock"/> tokens computes its logits (TokenBlock × V, 4 MB at V = 32000) once for a
/// running log-sum-exp and reads them back for the gradient, so memory grows with the vocabulary but never with T
/// (the T × V logits are never stored).
///   ℓ_t = lse(W·h_t) − Σ_v q_tv·(W·h_t)_v,    dh_t = weight·Wᵀ·(softmax(W·h_t) − q_t)
/// q_t is one-hot on the next token (<see cref="NextToken"/>) or a teacher's softmax (distillation, see
/// <see cref="SoftTargets"/>). Tokens are taken in blocks so that each classifier row read from memory serves a
/// block, and rows in groups so that a group's gradient weights meet its rows while they are in cache.
/// </summary>
internal static class ChunkedCrossEntropy
{
    /// <summary>Tokens per item: one classifier row is reused across them while it is in cache.</summary>
    public const int TokenBlock = 32;

    /// <summary>
    /// Σ_t ℓ_t over T tokens for one-hot targets, and dh = <paramref name="weight"/>·∂/∂h (overwritten)
    ///   h, dh: T × dim; classifier: vocab × dim.
    /// </summary>
    public static double NextToken(RowProducts products, float[] classifier, int vocab, float[] h, ReadOnlySpan<int> targets,
        float weight, float[] dh)
    {
        var t = targets.ToArray();
        return Run(products, classifier, vocab, h, t.Length, weight, dh, null, t);
    }

    /// <summary>
    /// As <see cref="NextToken"/> with soft targets q (the teacher's probabilities), given per token as their logits'
    /// rows through <paramref name="targets"/>.
    /// </summary>
    public static double SoftTargets(RowProducts products, float[] classifier, int vocab, float[] h, SoftTargets targets,
        float weight, float[] dh) =>
        Run(products, classifier, vocab, h, targets.Tokens, weight, dh, targets.Probability, null);

    // Exactly one of target (soft: q per token and row) and hardTargets (one-hot: the target row per token) is given.
    private static double Run(RowProducts products, float[] classifier, int vocab, float[] h, int tokens, float weight, float[] dh,
        Func<int, int, float>? target, int[]? hardTargets)
    {
        int d = classifier.Length / vocab, blocks = (tokens + TokenBlock - 1) / TokenBlock;
        var losses = new double[blocks];
        int groups = (vocab + RowGroup - 1) / RowGroup;
        ParallelLoop.For(products.Pool, blocks, 2L * vocab * d * TokenBlock, (block, worker) =>
        {
            int first = block * TokenBlock, count = Math.Min(TokenBlock, tokens - first);
            Span<float> max = stackalloc float[TokenBlock], sum = stackalloc float[TokenBlock], expected = stackalloc float[TokenBlock];
            max.Fill(float.NegativeInfinity);
            sum.Clear();
            expected.Clear();
            // The block's logits, group by group (TokenBlock × RowGroup each): the gradient pass reads them back.
            var all = products.Pool.Scratch(worker, groups * TokenBlock * RowGroup);
            for (int v0 = 0; v0 < vocab; v0 += RowGroup)
            {
                int group = Math.Min(RowGroup, vocab - v0);
                var logits = all.Slice(v0 * TokenBlock, TokenBlock * RowGroup);
                Logits(classifier, v0, group, h, d, first, count, logits);
                for (int i = 0; i < count; i++)
                {
                    int t = first + i, hard = hardTargets?[t] ?? -1;
                    for (int r = 0; r < group; r++)
                    {
                        int v = v0 + r;
                        float logit = logits[i * RowGroup + r];
                        // Running log-sum-exp: sum holds Σ e^(logit − max) over the rows so far.
                        if (logit > max[i])
                        {
                            sum[i] = sum[i] * MathF.Exp(max[i] - logit) + 1f;
                            max[i] = logit;
                        }
                        else sum[i] += MathF.Exp(logit - max[i]);
                        if (hardTargets is null) expected[i] += target!(t, v) * logit;
                        else if (v == hard) expected[i] = logit;
                    }
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
            if (weight != 0)
                for (int v0 = 0; v0 < vocab; v0 += RowGroup)
                {
                    int group = Math.Min(RowGroup, vocab - v0);
                    var logits = all.Slice(v0 * TokenBlock, TokenBlock * RowGroup);
                    for (int i = 0; i < count; i++)
                    {
                        // One-hot targets are read from the array, not through the delegate: 1 or 0, the same values.
                        int hard = hardTargets?[first + i] ?? -1;
                        for (int r = 0; r < group; r++)
                        {
                            int index = i * RowGroup + r;
                            float q = hardTargets is null ? target!(first + i, v0 + r) : v0 + r == hard ? 1f : 0f;
                            logits[index] = weight * (MathF.Exp(logits[index] - lse[i]) - q);
                        }
                    }
                    // dh_t += Σ_v g_tv·W_v, rows in vocabulary order for every element.
                    WeightedRowSums.Add(classifier.AsSpan(v0 * d), d, group, logits, RowGroup, dh.AsSpan(first * d), d, count, d);
                }
            losses[block] = loss;
        });
        double total = 0;
        foreach (double loss in losses) total += loss;
        return total;
    }

    /// <summary>Classifier rows per pass of a token block (five 6 × 4 tiles): their logits, then their gradients' sums, stay in cache.</summary>
    private const int RowGroup = 30;

    /// <summary>
    /// logits[i·RowGroup + r] = ⟨W_(v0+r), h_(first+i)⟩ for r &lt; group, i &lt; count: tiles of six (then four) rows × four
    /// tokens, each element bit for bit <see cref="FixedOrder.Dot"/>.
    /// </summary>
    private static void Logits(float[] classifier, int v0, int group, float[] h, int d, int first, int count, Span<float> logits)
    {
        Span<float> tile = stackalloc float[24];
        int i = 0;
        for (; i + 4 <= count; i += 4)
        {
            var tokens = h.AsSpan((first + i) * d, 4 * d);
            int r = 0;
            for (; r + 6 <= group; r += 6)
            {
                FixedOrder.Dots6x4(classifier.AsSpan((v0 + r) * d, 6 * d), d, tokens, d, d, tile);
                Store(logits, tile, i, r, 6);
            }
            for (; r + 4 <= group; r += 4)
            {
                FixedOrder.Dots4x4(classifier.AsSpan((v0 + r) * d, 4 * d), tokens, d, tile);
                Store(logits, tile, i, r, 4);
            }
            for (; r < group; r++)
                for (int k = 0; k < 4; k++) logits[(i + k) * RowGroup + r] = FixedOrder.Dot(classifier.AsSpan((v0 + r) * d, d), h.AsSpan((first + i + k) * d, d));
        }
        for (; i < count; i++)
            for (int r = 0; r < group; r++) logits[i * RowGroup + r] = FixedOrder.Dot(classifier.AsSpan((v0 + r) * d, d), h.AsSpan((first + i) * d, d));
    }

    // A tile of `rows` rows × 4 tokens, dots[4·a + k], into the block's logits at tokens i.., rows r..
    private static void Store(Span<float> logits, ReadOnlySpan<float> tile, int i, int r, int rows)
    {
        for (int a = 0; a < rows; a++)
            for (int k = 0; k < 4; k++) logits[(i + k) * RowGroup + r + a] = tile[4 * a + k];
    }
}
