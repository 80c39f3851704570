using System.Numerics.Tensors;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Inference;

/// <summary>
/// One pre-norm decoder block on the buffers of a <see cref="RunState"/>:
///   x += W_o·attention(RoPE(W_q·a), RoPE(W_k·a), W_v·a)        a = rms(x)·g_attn
///   x += W_down·(silu(W_gate·f) ⊙ W_up·f)                      f = rms(x)·g_ffn
/// <see cref="Forward"/> runs n tokens of one sequence at positions start..start+n−1 (a prefill chunk, or one decode
/// step); <see cref="ForwardDecodeSteps"/> runs one token each of n sequences, each at its own position with its own
/// cache, through the matrices' <see cref="ILinear.ApplyDecodeSteps"/> so that every row gets its decode step's
/// arithmetic. Shared by the whole-model forward pass and the block-at-a-time calibration pass, so both compute the
/// same activations.
/// </summary>
internal sealed class TransformerBlock(LlamaConfig config, RunState state, RopeTable rope, AttentionWork attention, DecodeStepsAttention? stepsAttention = null)
{
    /// <param name="x">The residual stream, n × dim, updated in place.</param>
    /// <param name="layer">The block's index in the model, reported to <paramref name="observer"/>.</param>
    /// <param name="cache">The sequence's cache; the keys and values go into its layer <paramref name="cacheLayer"/>.</param>
    public void Forward(LayerWeights w, int layer, KvCache cache, int cacheLayer, Span<float> x, int start, int n, IActivationObserver? observer)
    {
        var c = config;
        var s = state;
        int dim = c.Dim, qDim = c.QDim, kvDim = c.KvDim;
        var xb = s.Xb.AsSpan(0, n * dim);
        var q = s.Q.AsSpan(0, n * qDim);
        // The block's cache up to the batch's last position; k and v are the batch's rows of it.
        var keyCache = cache.Keys[cacheLayer].AsSpan(0, (start + n) * kvDim);
        var valueCache = cache.Values[cacheLayer].AsSpan(0, (start + n) * kvDim);
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
        w.AttentionOutput.ApplyBatch(attentionOut, s.Xb2.AsSpan(0, n * dim), n);
        TensorPrimitives.Add(x, s.Xb2.AsSpan(0, n * dim), x);
        FeedForward(w, layer, x, n, decodeSteps: false, observer);
    }

    /// <summary>
    /// One decode step of each of n sequences: row t of <paramref name="x"/> is a token at <paramref name="positions"/>[t]
    /// whose keys and values go into <paramref name="caches"/>[t] (grown to hold that position already).
    /// </summary>
    public void ForwardDecodeSteps(LayerWeights w, int layer, Span<float> x, int n, int[] positions, KvCache[] caches)
    {
        if (stepsAttention is null) throw new InvalidOperationException("this block was built for single sequences only");
        var c = config;
        var s = state;
        int dim = c.Dim, qDim = c.QDim, kvDim = c.KvDim;
        var xb = s.Xb.AsSpan(0, n * dim);
        var q = s.Q.AsSpan(0, n * qDim);
        var k = s.K.AsSpan(0, n * kvDim);
        var v = s.V.AsSpan(0, n * kvDim);

        for (int t = 0; t < n; t++) RmsNorm.Apply(x.Slice(t * dim, dim), w.AttentionNorm, c.NormEpsilon, xb.Slice(t * dim, dim));
        w.Query.ApplyDecodeSteps(xb, q, n);
        w.Key.ApplyDecodeSteps(xb, k, n);
        w.Value.ApplyDecodeSteps(xb, v, n);
        for (int t = 0; t < n; t++)
        {
            int position = positions[t];
            Rope.Apply(q.Slice(t * qDim, qDim), rope, position);
            Rope.Apply(k.Slice(t * kvDim, kvDim), rope, position);
            k.Slice(t * kvDim, kvDim).CopyTo(caches[t].Keys[layer].AsSpan(position * kvDim, kvDim));
            v.Slice(t * kvDim, kvDim).CopyTo(caches[t].Values[layer].AsSpan(position * kvDim, kvDim));
        }
        stepsAttention.Run(s.Q, caches, positions, layer, s.Xb, n);
        w.AttentionOutput.ApplyDecodeSteps(s.Xb.AsSpan(0, n * qDim), s.Xb2.AsSpan(0, n * dim), n);
        TensorPrimitives.Add(x, s.Xb2.AsSpan(0, n * dim), x);
        FeedForward(w, layer, x, n, decodeSteps: true, observer: null);
    }

    // x += W_down·(silu(W_gate·f) ⊙ W_up·f)   f = rms(x)·g_ffn
    private void FeedForward(LayerWeights w, int layer, Span<float> x, int n, bool decodeSteps, IActivationObserver? observer)
    {
        var c = config;
        var s = state;
        int dim = c.Dim, hidden = c.HiddenDim;
        var xb = s.Xb.AsSpan(0, n * dim);
        var xb2 = s.Xb2.AsSpan(0, n * dim);
        var hb = s.Hb.AsSpan(0, n * hidden);
        var hb2 = s.Hb2.AsSpan(0, n * hidden);
        for (int t = 0; t < n; t++) RmsNorm.Apply(x.Slice(t * dim, dim), w.FfnNorm, c.NormEpsilon, xb.Slice(t * dim, dim));
        observer?.Observe(layer, LinearInput.Ffn, xb, n);
        Apply(w.Gate, xb, hb);
        Apply(w.Up, xb, hb2);
        if (decodeSteps)
        {
            // Row by row: the vector and scalar paths of silu differ in the last bits, and where a row ends off a vector
            // boundary (hidden 172) a batch would put its tail on the other path than its decode step alone.
            for (int t = 0; t < n; t++) SiluGate.Apply(hb.Slice(t * hidden, hidden), hb2.Slice(t * hidden, hidden));
        }
        else SiluGate.Apply(hb, hb2);
        observer?.Observe(layer, LinearInput.Down, hb, n);
        Apply(w.Down, hb, xb2);
        TensorPrimitives.Add(x, xb2, x);

        void Apply(ILinear matrix, ReadOnlySpan<float> input, Span<float> output)
        {
            if (decodeSteps) matrix.ApplyDecodeSteps(input, output, n);
            else matrix.ApplyBatch(input, output, n);
        }
    }
}
