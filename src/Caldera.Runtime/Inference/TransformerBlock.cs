using System.Numerics.Tensors;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Inference;

/// <summary>
/// One pre-norm decoder block over n tokens at positions start..start+n−1, on the buffers of a
/// <see cref="RunState"/>:
///   x += W_o·attention(RoPE(W_q·a), RoPE(W_k·a), W_v·a)        a = rms(x)·g_attn
///   x += W_down·(silu(W_gate·f) ⊙ W_up·f)                      f = rms(x)·g_ffn
/// The keys and values go into the cache slot <c>cacheLayer</c>. Shared by the whole-model forward pass and
/// the block-at-a-time calibration pass, so both compute the same activations.
/// </summary>
internal sealed class TransformerBlock(LlamaConfig config, RunState state, RopeTable rope, AttentionWork attention)
{
    /// <param name="x">The residual stream, n × dim, updated in place.</param>
    /// <param name="layer">The block's index in the model, reported to <paramref name="observer"/>.</param>
    public void Forward(LayerWeights w, int layer, int cacheLayer, Span<float> x, int start, int n, IActivationObserver? observer)
    {
        var c = config;
        var s = state;
        int dim = c.Dim, qDim = c.QDim, kvDim = c.KvDim, hidden = c.HiddenDim;
        var xb = s.Xb.AsSpan(0, n * dim);
        var xb2 = s.Xb2.AsSpan(0, n * dim);
        var q = s.Q.AsSpan(0, n * qDim);
        var hb = s.Hb.AsSpan(0, n * hidden);
        var hb2 = s.Hb2.AsSpan(0, n * hidden);
        // The block's cache up to the batch's last position; k and v are the batch's rows of it.
        var keyCache = s.KeyCache[cacheLayer].AsSpan(0, (start + n) * kvDim);
        var valueCache = s.ValueCache[cacheLayer].AsSpan(0, (start + n) * kvDim);
        var k = keyCache[(start * kvDim)..];
        var v = valueCache[(start * kvDim)..];
        // The attention output overwrites xb, as in llama2.c: the normalised input is spent once q, k and v exist.
        var attentionOut = s.Xb.AsSpan(0, n * qDim);

        for (int t = 0; t < n; t++) RmsNorm.Apply(x.Slice(t * dim, dim), w.AttentionNorm, c.NormEpsilon, xb.Slice(t * dim, dim));
        observer?.Observe(layer, LinearInput.Attention, xb, n);
        w.Query.ApplyBatch(xb, q, n);
        w.Key.ApplyBatch(xb, k, n);
        w.Value.ApplyBatch(xb, v, n);
        for (int t = 0; t < n; t++)
        {
            Rope.Apply(q.Slice(t * qDim, qDim), rope, start + t);
            Rope.Apply(k.Slice(t * kvDim, kvDim), rope, start + t);
        }
        attention.Run(q, keyCache, valueCache, attentionOut, start, n);
        observer?.Observe(layer, LinearInput.AttentionOutput, attentionOut, n);
        w.AttentionOutput.ApplyBatch(attentionOut, xb2, n);
        TensorPrimitives.Add(x, xb2, x);

        for (int t = 0; t < n; t++) RmsNorm.Apply(x.Slice(t * dim, dim), w.FfnNorm, c.NormEpsilon, xb.Slice(t * dim, dim));
        observer?.Observe(layer, LinearInput.Ffn, xb, n);
        w.Gate.ApplyBatch(xb, hb, n);
        w.Up.ApplyBatch(xb, hb2, n);
        SiluGate.Apply(hb, hb2);
        observer?.Observe(layer, LinearInput.Down, hb, n);
        w.Down.ApplyBatch(hb, xb2, n);
        TensorPrimitives.Add(x, xb2, x);
    }
}
