using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;
using Caldera.Runtime.Training.Arithmetic;

namespace Caldera.Runtime.Training.Model;

/// <summary>
/// One pre-norm block over a window of T tokens, forward keeping what its backward needs, and backward:
///   a = rms(x)·g_attn,  x₁ = x + W_o·attention(RoPE(W_q·a), RoPE(W_k·a), W_v·a)
///   f = rms(x₁)·g_ffn,  x₂ = x₁ + W_down·(silu(W_gate·f) ⊙ W_up·f)
/// Forward writes what the backward needs into the <see cref="BlockActivations"/> it is given (one per block, or one for
/// all when the window pass checkpoints); the buffers here (a, f, h and the gradients) serve every block, since blocks
/// run one at a time.
/// </summary>
internal sealed class BlockPass
{
    private readonly LlamaConfig _c;
    private readonly RowProducts _products;
    private readonly LinearWorkspace _work;
    private readonly RopeTable _rope;
    private readonly CausalAttention _attention;

    // The normed inputs and h = silu(gate)·up, written by Forward and rebuilt by Backward.
    private readonly float[] _a, _f, _h;

    // Backward's gradients.
    private readonly float[] _dx1, _dh, _dGate, _dUp, _df, _dO, _dq, _dk, _dv, _da;

    public BlockPass(LlamaConfig config, RowProducts products, LinearWorkspace work, RopeTable rope, int maxTokens)
    {
        _c = config;
        _products = products;
        _work = work;
        _rope = rope;
        _attention = new CausalAttention(config, products, maxTokens);
        int t = maxTokens, d = config.Dim, hidden = config.HiddenDim;
        float[] New(int width) => new float[(long)t * width];
        (_a, _f, _h) = (New(d), New(d), New(hidden));
        (_dx1, _dh, _dGate, _dUp, _df, _dO, _dq, _dk, _dv, _da) = (New(d), New(hidden), New(hidden), New(hidden), New(d), New(config.QDim), New(config.QDim), New(config.KvDim), New(config.KvDim), New(d));
    }

    /// <summary>x₂ from x (both T × dim, distinct arrays), keeping this block's activations in <paramref name="s"/> for <see cref="Backward"/>.</summary>
    public void Forward(TrainableLayer w, float[] x, float[] x2, int tokens, BlockActivations s)
    {
        int d = _c.Dim, qDim = _c.QDim, kvDim = _c.KvDim, hidden = _c.HiddenDim;
        var pool = _products.Pool;
        ParallelLoop.For(pool, tokens, 2L * d, (t, _) =>
            s.RhoAttention[t] = RmsNormStep.Forward(x.AsSpan(t * d, d), w.AttentionNorm.Values, _c.NormEpsilon, _a.AsSpan(t * d, d)));
        w.Query.Forward(_products, _a, s.Q, tokens, _work);
        w.Key.Forward(_products, _a, s.K, tokens, _work);
        w.Value.Forward(_products, _a, s.V, tokens, _work);
        ParallelLoop.For(pool, tokens, 4L * qDim, (t, _) =>
        {
            RopeRotation.Apply(s.Q.AsSpan(t * qDim, qDim), _rope, t);
            RopeRotation.Apply(s.K.AsSpan(t * kvDim, kvDim), _rope, t);
        });
        _attention.Forward(s.Q, s.K, s.V, s.O, tokens);
        w.AttentionOutput.Forward(_products, s.O, s.X1, tokens, _work);
        ParallelLoop.For(pool, tokens, 3L * d, (t, _) =>
        {
            var x1 = s.X1.AsSpan(t * d, d);
            var xt = x.AsSpan(t * d, d);
            for (int i = 0; i < d; i++) x1[i] += xt[i];
            s.RhoFfn[t] = RmsNormStep.Forward(x1, w.FfnNorm.Values, _c.NormEpsilon, _f.AsSpan(t * d, d));
        });
        w.Gate.Forward(_products, _f, s.Gate, tokens, _work);
        w.Up.Forward(_products, _f, s.Up, tokens, _work);
        ParallelLoop.For(pool, tokens, 4L * hidden, (t, _) => Gated(s.Gate, s.Up, _h, t * hidden, (t + 1) * hidden));
        w.Down.Forward(_products, _h, x2, tokens, _work);
        ParallelLoop.For(pool, tokens, d, (t, _) =>
        {
            for (int i = t * d; i < (t + 1) * d; i++) x2[i] += s.X1[i];
        });
    }

    /// <summary>
    /// Turns dx₂ into dx in place (T × dim) and adds the block's matrix gradients (and its gains', when they train); <paramref name="s"/> holds what
    /// <see cref="Forward"/> kept when it ran this block on input <paramref name="x"/>.
    /// </summary>
    public void Backward(TrainableLayer w, float[] x, float[] dx, int tokens, BlockActivations s)
    {
        int d = _c.Dim, qDim = _c.QDim, kvDim = _c.KvDim, hidden = _c.HiddenDim;
        var pool = _products.Pool;
        // a, f and h as Forward computed them (the same operations on the same values, so the same bits).
        ParallelLoop.For(pool, tokens, 4L * d + 4L * hidden, (t, _) =>
        {
            RmsNormStep.Forward(x.AsSpan(t * d, d), w.AttentionNorm.Values, _c.NormEpsilon, _a.AsSpan(t * d, d));
            RmsNormStep.Forward(s.X1.AsSpan(t * d, d), w.FfnNorm.Values, _c.NormEpsilon, _f.AsSpan(t * d, d));
            Gated(s.Gate, s.Up, _h, t * hidden, (t + 1) * hidden);
        });
        Array.Copy(dx, _dx1, tokens * d);
        w.Down.Backward(_products, _h, _dx1, _dh, tokens, _work, accumulate: false);
        ParallelLoop.For(pool, tokens, 8L * hidden, (t, _) =>
        {
            for (int i = t * hidden; i < (t + 1) * hidden; i++)
            {
                float g = s.Gate[i], sigma = 1f / (1f + MathF.Exp(-g));
                _dUp[i] = _dh[i] * g * sigma;
                _dGate[i] = _dh[i] * s.Up[i] * sigma * (1f + g * (1f - sigma));
            }
        });
        w.Gate.Backward(_products, _f, _dGate, _df, tokens, _work, accumulate: false);
        w.Up.Backward(_products, _f, _dUp, _df, tokens, _work, accumulate: true);
        w.FfnNorm.Accumulate(s.X1, s.RhoFfn, _df, tokens);
        ParallelLoop.For(pool, tokens, 4L * d, (t, worker) =>
            RmsNormStep.Backward(s.X1.AsSpan(t * d, d), w.FfnNorm.Values, s.RhoFfn[t], _df.AsSpan(t * d, d), _dx1.AsSpan(t * d, d), pool.Scratch(worker, d)));

        w.AttentionOutput.Backward(_products, s.O, _dx1, _dO, tokens, _work, accumulate: false);
        _attention.Backward(s.Q, s.K, s.V, _dO, _dq, _dk, _dv, tokens);
        ParallelLoop.For(pool, tokens, 4L * qDim, (t, _) =>
        {
            RopeRotation.ApplyTranspose(_dq.AsSpan(t * qDim, qDim), _rope, t);
            RopeRotation.ApplyTranspose(_dk.AsSpan(t * kvDim, kvDim), _rope, t);
        });
        w.Query.Backward(_products, _a, _dq, _da, tokens, _work, accumulate: false);
        w.Key.Backward(_products, _a, _dk, _da, tokens, _work, accumulate: true);
        w.Value.Backward(_products, _a, _dv, _da, tokens, _work, accumulate: true);
        Array.Copy(_dx1, dx, tokens * d);
        w.AttentionNorm.Accumulate(x, s.RhoAttention, _da, tokens);
        ParallelLoop.For(pool, tokens, 4L * d, (t, worker) =>
            RmsNormStep.Backward(x.AsSpan(t * d, d), w.AttentionNorm.Values, s.RhoAttention[t], _da.AsSpan(t * d, d), dx.AsSpan(t * d, d), pool.Scratch(worker, d)));
    }

    // h = silu(gate)·up over [from, to)
    private static void Gated(float[] gate, float[] up, float[] h, int from, int to)
    {
        for (int i = from; i < to; i++) h[i] = Silu(gate[i]) * up[i];
    }

    private static float Silu(float g) => g / (1f + MathF.Exp(-g));
}
