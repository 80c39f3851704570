using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Inference;

/// <summary>
/// Causal grouped-query attention for a batch of tokens at positions start..start+n−1, one work item per
/// (token, query head): att_p = q·k_p / √headDim for p ≤ pos, softmax, out = Σ_p att_p·v_p.
/// Query head h reads KV head h / (heads / kvHeads). Keys and values of the batch are already in the cache,
/// so a token attends to the earlier tokens of its own batch as well.
/// </summary>
internal sealed class AttentionWork(LlamaConfig config, RunState state, WorkerPool pool, int contextLength) : IParallelWork
{
    private readonly int _headDim = config.HeadDim;
    private readonly int _heads = config.HeadCount;
    private readonly int _queriesPerKv = config.HeadCount / config.KvHeadCount;
    private readonly int _kvDim = config.KvDim;
    private readonly int _qDim = config.QDim;
    private readonly float _scale = 1f / MathF.Sqrt(config.HeadDim);
    private int _layer, _start;

    public void Run(int layer, int start, int n)
    {
        (_layer, _start) = (layer, start);
        // One item is one head of one token: scores and the weighted sum over its ≤ start + n positions.
        pool.For(n * _heads, 1, this, 2L * (start + n) * _headDim);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Execute(int startItem, int endItem, int worker)
    {
        var keys = state.KeyCache[_layer];
        var values = state.ValueCache[_layer];
        for (int item = startItem; item < endItem; item++)
        {
            int t = item / _heads, h = item % _heads, position = _start + t;
            int kvOffset = h / _queriesPerKv * _headDim;
            var q = state.Q.AsSpan(t * _qDim + h * _headDim, _headDim);
            // Sized to the whole context so the buffer is allocated once, not grown with each position.
            var att = pool.Scratch(worker, contextLength)[..(position + 1)];
            for (int p = 0; p <= position; p++)
                att[p] = TensorPrimitives.Dot(q, keys.AsSpan(p * _kvDim + kvOffset, _headDim)) * _scale;
            Softmax.Apply(att);
            var output = state.Xb.AsSpan(t * _qDim + h * _headDim, _headDim);
            output.Clear();
            for (int p = 0; p <= position; p++)
                TensorPrimitives.MultiplyAdd(values.AsSpan(p * _kvDim + kvOffset, _headDim), att[p], output, output);
        }
    }
}
