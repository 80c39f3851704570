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
internal sealed unsafe class AttentionWork(LlamaConfig config, WorkerPool pool, int contextLength) : IParallelWork
{
    private readonly int _headDim = config.HeadDim;
    private readonly int _heads = config.HeadCount;
    private readonly int _queriesPerKv = config.HeadCount / config.KvHeadCount;
    private readonly int _kvDim = config.KvDim;
    private readonly int _qDim = config.QDim;
    private readonly float _scale = 1f / MathF.Sqrt(config.HeadDim);

    // The call's arguments: q and out (n × heads·headDim), the cached keys and values (start + n positions × kvDim).
    private float* _q, _keys, _values, _output;
    private int _start;

    /// <param name="q">The batch's queries, RoPE applied: n × heads·headDim.</param>
    /// <param name="keys">One layer's cached keys at positions 0..start+n−1 (the batch's included), RoPE applied: × kvDim.</param>
    /// <param name="values">The same layer's cached values at those positions: × kvDim.</param>
    /// <param name="output">The attention output: n × heads·headDim.</param>
    public void Run(ReadOnlySpan<float> q, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, Span<float> output, int start, int n)
    {
        long positions = (long)(start + n) * _kvDim;
        if (q.Length != (long)n * _qDim || output.Length != (long)n * _qDim || keys.Length != positions || values.Length != positions)
            throw new ArgumentException($"attention of {n} tokens at {start}: expected q and output of {n}×{_qDim} and keys and values of {start + n}×{_kvDim}");
        fixed (float* pq = q, pk = keys, pv = values, po = output)
        {
            _q = pq;
            _keys = pk;
            _values = pv;
            _output = po;
            _start = start;
            // One item is one head of one token: scores and the weighted sum over its ≤ start + n positions.
            pool.For(n * _heads, 1, this, 2L * (start + n) * _headDim);
            _q = _keys = _values = _output = null;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Execute(int startItem, int endItem, int worker)
    {
        for (int item = startItem; item < endItem; item++)
        {
            int t = item / _heads, h = item % _heads, position = _start + t;
            int kvOffset = h / _queriesPerKv * _headDim;
            Attend(new ReadOnlySpan<float>(_q + t * _qDim + h * _headDim, _headDim),
                new ReadOnlySpan<float>(_keys, (position + 1) * _kvDim), new ReadOnlySpan<float>(_values, (position + 1) * _kvDim),
                _kvDim, kvOffset, pool.Scratch(worker, contextLength)[..(position + 1)], _scale,
                new Span<float>(_output + t * _qDim + h * _headDim, _headDim));
        }
    }

    /// <summary>
    /// One query head at one position p_last = att.Length − 1: att_p = q·k_p·scale for p ≤ p_last, softmax, out = Σ_p att_p·v_p,
    /// reading the head's slice at <paramref name="kvOffset"/> of each cached row of <paramref name="kvDim"/> floats.
    /// Every attention path runs this, so a token's attention is the same whatever batch it is in.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Attend(ReadOnlySpan<float> q, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int kvDim, int kvOffset,
        Span<float> att, float scale, Span<float> output)
    {
        int headDim = q.Length;
        for (int p = 0; p < att.Length; p++)
            att[p] = TensorPrimitives.Dot(q, keys.Slice(p * kvDim + kvOffset, headDim)) * scale;
        Softmax.Apply(att);
        output.Clear();
        for (int p = 0; p < att.Length; p++)
            TensorPrimitives.MultiplyAdd(values.Slice(p * kvDim + kvOffset, headDim), att[p], output, output);
    }
}
