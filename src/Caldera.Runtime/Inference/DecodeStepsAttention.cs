using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Inference;

/// <summary>
/// Attention for a batch of decode steps of different sequences: row t is one token at position p_t of the sequence
/// whose cache is caches[t], and attends to that cache's positions 0..p_t only. One work item per (row, KV head),
/// each running <see cref="AttentionWork.Attend"/>, so a row gets exactly the attention of its decode step alone.
/// </summary>
internal sealed class DecodeStepsAttention(LlamaConfig config, WorkerPool pool) : IParallelWork
{
    private readonly int _headDim = config.HeadDim;
    private readonly int _kvHeads = config.KvHeadCount;
    private readonly int _queriesPerKv = config.HeadCount / config.KvHeadCount;
    private readonly int _kvDim = config.KvDim;
    private readonly int _qDim = config.QDim;
    private readonly float _scale = 1f / MathF.Sqrt(config.HeadDim);

    // The call's arguments; the arrays are the caller's and are cleared after the call.
    private float[] _q = [], _output = [];
    private KvCache[] _caches = [];
    private int[] _positions = [];
    private int _layer, _longest;

    /// <param name="q">The rows' queries, RoPE applied: n × heads·headDim (the first n rows are used).</param>
    /// <param name="caches">Row t's cache, holding its key and value at <paramref name="positions"/>[t] already.</param>
    /// <param name="output">The attention output: n × heads·headDim.</param>
    public void Run(float[] q, KvCache[] caches, int[] positions, int layer, float[] output, int n)
    {
        if (q.Length < (long)n * _qDim || output.Length < (long)n * _qDim || caches.Length < n || positions.Length < n)
            throw new ArgumentException($"attention of {n} decode steps: expected q and output of {n}×{_qDim} and {n} caches and positions");
        _q = q;
        _output = output;
        _caches = caches;
        _positions = positions;
        _layer = layer;
        _longest = 0;
        for (int t = 0; t < n; t++) _longest = Math.Max(_longest, positions[t] + 1);
        pool.For(n * _kvHeads, 1, this, 2L * _longest * _headDim * _queriesPerKv);
        _q = _output = [];
        _caches = [];
        _positions = [];
    }

    public void Execute(int startItem, int endItem, int worker)
    {
        int groupWidth = _queriesPerKv * _headDim;
        for (int item = startItem; item < endItem; item++)
        {
            int t = item / _kvHeads, g = item % _kvHeads, positions = _positions[t] + 1;
            var cache = _caches[t];
            int length = positions * _kvDim;
            AttentionWork.Attend(_q.AsSpan(t * _qDim + g * groupWidth, groupWidth), cache.Keys[_layer].AsSpan(0, length),
                cache.Values[_layer].AsSpan(0, length), _kvDim, g * _headDim, _headDim,
                pool.Scratch(worker, _queriesPerKv * cache.ContextLength)[..(_queriesPerKv * positions)], _scale,
                _output.AsSpan(t * _qDim + g * groupWidth, groupWidth), KernelPaths.Best);
        }
    }
}
