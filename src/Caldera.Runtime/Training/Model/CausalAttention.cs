using Caldera.Runtime.Model;
using Caldera.Runtime.Training.Arithmetic;

namespace Caldera.Runtime.Training.Model;

/// <summary>
/// Causal grouped-query attention over a window of T tokens at positions 0..T−1. Query head h reads KV head
/// h / (heads / kvHeads); c = 1/√headDim.
///   forward   s_p = c·q·k_p (p ≤ t),  P = softmax(s),  o = Σ_p P_p·v_p
///   backward  dP_p = do·v_p,  dS_p = P_p·(dP_p − Σ_p' P_p'·dP_p'),  dq = c·Σ_p dS_p·k_p,
///             dk_p = c·Σ_(t ≥ p, h in group) dS[t,h,p]·q[t,h],  dv_p = Σ_(t ≥ p, h in group) P[t,h,p]·do[t,h]
/// o and dq are computed per four tokens of a head; dk and dv per four positions of a KV head, so no two items write one
/// element, and each element's sum takes its terms in the order above whatever the item (<see cref="StridedRowSums"/>).
/// </summary>
internal sealed class CausalAttention(LlamaConfig config, RowProducts products, int maxTokens)
{
    private readonly int _hd = config.HeadDim, _heads = config.HeadCount, _group = config.HeadCount / config.KvHeadCount;
    private readonly int _qDim = config.QDim, _kvDim = config.KvDim;
    private readonly float _c = 1f / MathF.Sqrt(config.HeadDim);

    /// <summary>P[t, h, p] for p ≤ t, and c·dS in the backward pass: T × heads × T, for the block that runs now.</summary>
    private readonly float[] _p = new float[(long)maxTokens * config.HeadCount * maxTokens];
    private readonly float[] _ds = new float[(long)maxTokens * config.HeadCount * maxTokens];

    private int Row(int t, int h, int tokens) => (t * _heads + h) * tokens;

    /// <summary>o (T × qDim) from q (T × qDim) and k, v (T × kvDim), RoPE already applied.</summary>
    /// <remarks>
    /// An item is four tokens of one head (<see cref="StridedRowSums"/> keeps their o in registers while v's rows pass):
    /// token t's row of P is zero from t + 1 to the end of its four, and a zero term leaves a sum's bits as they are,
    /// so each element is the chain over p ≤ t that a token alone would sum.
    /// </remarks>
    public void Forward(float[] q, float[] k, float[] v, float[] o, int tokens)
    {
        int quads = (tokens + Quad - 1) / Quad;
        ParallelLoop.For(products.Pool, quads * _heads, 2L * Quad * tokens * _hd, (item, _) =>
        {
            int t0 = item / _heads * Quad, h = item % _heads, count = Math.Min(Quad, tokens - t0), kv = h / _group * _hd;
            Dots(q, k, t0, count, h, tokens, _p);
            for (int t = t0; t < t0 + count; t++)
            {
                var att = _p.AsSpan(Row(t, h, tokens), t0 + count);
                Softmax(att[..(t + 1)]);
                att[(t + 1)..].Clear();
                o.AsSpan(t * _qDim + h * _hd, _hd).Clear();
            }
            // o[t, h] = Σ_(p < t0 + count) P[t, h, p]·v[p, kv]
            StridedRowSums.Add(_p.AsSpan(Row(t0, h, tokens)), 1, 0, _heads * tokens, v.AsSpan(kv), _kvDim, 0, t0 + count, 1,
                o.AsSpan(t0 * _qDim + h * _hd), _qDim, count, _hd);
        });
    }

    /// <summary>Tokens (forward, dq) or positions (dk, dv) per item, summed at once.</summary>
    private const int Quad = 4;

    // target[Row(t, h) + p] = x_(t,h)·y_(p,kv) for t in [t0, t0 + count), p < t0 + count: four tokens × four positions at a
    // time when the item has four tokens, each bit for bit its own FixedOrder.Dot (past t they are not used).
    private void Dots(float[] x, float[] y, int t0, int count, int h, int tokens, float[] target)
    {
        int kv = h / _group * _hd, end = t0 + count, p = 0;
        Span<float> tile = stackalloc float[16];
        if (count == Quad)
            for (; p + Quad <= end; p += Quad)
            {
                FixedOrder.Dots4x4(y.AsSpan(p * _kvDim + kv), _kvDim, x.AsSpan(t0 * _qDim + h * _hd), _qDim, _hd, tile);
                for (int r = 0; r < Quad; r++)
                    for (int i = 0; i < Quad; i++) target[Row(t0 + i, h, tokens) + p + r] = tile[4 * r + i];
            }
        for (int t = t0; t < end; t++)
            for (int s = p; s < end; s++)
                target[Row(t, h, tokens) + s] = FixedOrder.Dot(x.AsSpan(t * _qDim + h * _hd, _hd), y.AsSpan(s * _kvDim + kv, _hd));
    }

    // att = softmax_p(c·att_p): att holds q_(t,h)·k_p for p ≤ t.
    private void Softmax(Span<float> att)
    {
        float max = float.NegativeInfinity;
        for (int p = 0; p < att.Length; p++)
        {
            att[p] *= _c;
            max = MathF.Max(max, att[p]);
        }
        float sum = 0;
        for (int p = 0; p < att.Length; p++) sum += att[p] = MathF.Exp(att[p] - max);
        for (int p = 0; p < att.Length; p++) att[p] /= sum;
    }

    /// <summary>
    /// dq (T × qDim), dk and dv (T × kvDim), overwritten, from do and the forward's q, k, v. P is computed again from q
    /// and k (the same bits as the forward's), so that a window's blocks need not keep their T × heads × T probabilities.
    /// </summary>
    public void Backward(float[] q, float[] k, float[] v, float[] dO, float[] dq, float[] dk, float[] dv, int tokens)
    {
        int quads = (tokens + Quad - 1) / Quad;
        ParallelLoop.For(products.Pool, quads * _heads, 4L * Quad * tokens * _hd, (item, _) =>
        {
            int t0 = item / _heads * Quad, h = item % _heads, count = Math.Min(Quad, tokens - t0), kv = h / _group * _hd;
            Dots(q, k, t0, count, h, tokens, _p);
            Dots(dO, v, t0, count, h, tokens, _ds);
            for (int t = t0; t < t0 + count; t++)
            {
                var att = _p.AsSpan(Row(t, h, tokens), t0 + count);
                Softmax(att[..(t + 1)]);
                // c·dS, zero past t as P is, so that dq here and dk below sum the same terms a token alone would.
                var ds = _ds.AsSpan(Row(t, h, tokens), t0 + count);
                float weighted = 0;
                for (int p = 0; p <= t; p++) weighted += att[p] * ds[p];
                for (int p = 0; p <= t; p++) ds[p] = _c * (att[p] * (ds[p] - weighted));
                att[(t + 1)..].Clear();
                ds[(t + 1)..].Clear();
                dq.AsSpan(t * _qDim + h * _hd, _hd).Clear();
            }
            // dq[t, h] = Σ_(p < t0 + count) c·dS[t, h, p]·k[p, kv]
            StridedRowSums.Add(_ds.AsSpan(Row(t0, h, tokens)), 1, 0, _heads * tokens, k.AsSpan(kv), _kvDim, 0, t0 + count, 1,
                dq.AsSpan(t0 * _qDim + h * _hd), _qDim, count, _hd);
        });
        int kvHeads = _heads / _group;
        ParallelLoop.For(products.Pool, quads * kvHeads, 2L * Quad * tokens * _group * _hd, (item, _) =>
        {
            int p0 = item / kvHeads * Quad, g = item % kvHeads, count = Math.Min(Quad, tokens - p0);
            for (int p = p0; p < p0 + count; p++)
            {
                dk.AsSpan(p * _kvDim + g * _hd, _hd).Clear();
                dv.AsSpan(p * _kvDim + g * _hd, _hd).Clear();
            }
            // Over t ≥ p0, then the group's heads; the terms with p0 ≤ t < p are the zeros written above.
            int first = Row(p0, g * _group, tokens) + p0, rows = p0 * _qDim + g * _group * _hd;
            StridedRowSums.Add(_ds.AsSpan(first), _heads * tokens, tokens, 1, q.AsSpan(rows), _qDim, _hd, tokens - p0, _group,
                dk.AsSpan(p0 * _kvDim + g * _hd), _kvDim, count, _hd);
            StridedRowSums.Add(_p.AsSpan(first), _heads * tokens, tokens, 1, dO.AsSpan(rows), _qDim, _hd, tokens - p0, _group,
                dv.AsSpan(p0 * _kvDim + g * _hd), _kvDim, count, _hd);
        });
    }
}
