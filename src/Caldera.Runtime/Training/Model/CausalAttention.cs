using Caldera.Runtime.Model;
using Caldera.Runtime.Training.Arithmetic;

namespace Caldera.Runtime.Training.Model;

/// <summary>
/// Causal grouped-query attention over a window of T tokens at positions 0..T−1. Query head h reads KV head
/// h / (heads / kvHeads); c = 1/√headDim.
///   forward   s_p = c·q·k_p (p ≤ t),  P = softmax(s),  o = Σ_p P_p·v_p
///   backward  dP_p = do·v_p,  dS_p = P_p·(dP_p − Σ_p' P_p'·dP_p'),  dq = c·Σ_p dS_p·k_p,
///             dk_p = c·Σ_(t ≥ p, h in group) dS[t,h,p]·q[t,h],  dv_p = Σ_(t ≥ p, h in group) P[t,h,p]·do[t,h]
/// dq is computed per (token, head); dk and dv per (position, KV head), so no two items write one element.
/// </summary>
internal sealed class CausalAttention(LlamaConfig config, RowProducts products, int maxTokens)
{
    private readonly int _hd = config.HeadDim, _heads = config.HeadCount, _group = config.HeadCount / config.KvHeadCount;
    private readonly int _qDim = config.QDim, _kvDim = config.KvDim;
    private readonly float _c = 1f / MathF.Sqrt(config.HeadDim);

    /// <summary>P[t, h, p] for p ≤ t, and dS in the backward pass: T × heads × T, for the block that runs now.</summary>
    private readonly float[] _p = new float[(long)maxTokens * config.HeadCount * maxTokens];
    private readonly float[] _ds = new float[(long)maxTokens * config.HeadCount * maxTokens];

    private int Row(int t, int h, int tokens) => (t * _heads + h) * tokens;

    /// <summary>o (T × qDim) from q (T × qDim) and k, v (T × kvDim), RoPE already applied.</summary>
    public void Forward(float[] q, float[] k, float[] v, float[] o, int tokens)
    {
        ParallelLoop.For(products.Pool, tokens * _heads, 2L * tokens * _hd, (item, _) =>
        {
            int t = item / _heads, h = item % _heads, kv = h / _group * _hd;
            var att = _p.AsSpan(Row(t, h, tokens), t + 1);
            Probabilities(q, k, t, h, att);
            var oh = o.AsSpan(t * _qDim + h * _hd, _hd);
            oh.Clear();
            for (int p = 0; p <= t; p++) FixedOrder.AddScaled(oh, att[p], v.AsSpan(p * _kvDim + kv, _hd));
        });
    }

    // P[t, h, 0..t] = softmax_p(c·q_(t,h)·k_p)
    private void Probabilities(float[] q, float[] k, int t, int h, Span<float> att)
    {
        int kv = h / _group * _hd;
        var qh = q.AsSpan(t * _qDim + h * _hd, _hd);
        float max = float.NegativeInfinity;
        for (int p = 0; p <= t; p++)
        {
            att[p] = _c * FixedOrder.Dot(qh, k.AsSpan(p * _kvDim + kv, _hd));
            max = MathF.Max(max, att[p]);
        }
        float sum = 0;
        for (int p = 0; p <= t; p++) sum += att[p] = MathF.Exp(att[p] - max);
        for (int p = 0; p <= t; p++) att[p] /= sum;
    }

    /// <summary>
    /// dq (T × qDim), dk and dv (T × kvDim), overwritten, from do and the forward's q, k, v. P is computed again from q
    /// and k (the same bits as the forward's), so that a window's blocks need not keep their T × heads × T probabilities.
    /// </summary>
    public void Backward(float[] q, float[] k, float[] v, float[] dO, float[] dq, float[] dk, float[] dv, int tokens)
    {
        ParallelLoop.For(products.Pool, tokens * _heads, 3L * tokens * _hd, (item, _) =>
        {
            int t = item / _heads, h = item % _heads, kv = h / _group * _hd;
            var doh = dO.AsSpan(t * _qDim + h * _hd, _hd);
            var att = _p.AsSpan(Row(t, h, tokens), t + 1);
            Probabilities(q, k, t, h, att);
            var ds = _ds.AsSpan(Row(t, h, tokens), t + 1);
            float weighted = 0;
            for (int p = 0; p <= t; p++)
            {
                ds[p] = FixedOrder.Dot(doh, v.AsSpan(p * _kvDim + kv, _hd));
                weighted += att[p] * ds[p];
            }
            for (int p = 0; p <= t; p++) ds[p] = att[p] * (ds[p] - weighted);
            var dqh = dq.AsSpan(t * _qDim + h * _hd, _hd);
            dqh.Clear();
            for (int p = 0; p <= t; p++) FixedOrder.AddScaled(dqh, _c * ds[p], k.AsSpan(p * _kvDim + kv, _hd));
        });
        int kvHeads = _heads / _group;
        ParallelLoop.For(products.Pool, tokens * kvHeads, 2L * tokens * _group * _hd, (item, _) =>
        {
            int p = item / kvHeads, g = item % kvHeads;
            var dkp = dk.AsSpan(p * _kvDim + g * _hd, _hd);
            var dvp = dv.AsSpan(p * _kvDim + g * _hd, _hd);
            dkp.Clear();
            dvp.Clear();
            for (int t = p; t < tokens; t++)
                for (int h = g * _group; h < (g + 1) * _group; h++)
                {
                    FixedOrder.AddScaled(dkp, _c * _ds[Row(t, h, tokens) + p], q.AsSpan(t * _qDim + h * _hd, _hd));
                    FixedOrder.AddScaled(dvp, _p[Row(t, h, tokens) + p], dO.AsSpan(t * _qDim + h * _hd, _hd));
                }
        });
    }
}
