using System.Runtime.CompilerServices;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;
using Caldera.Runtime.Training.Arithmetic;

namespace Caldera.Runtime.Inference;

/// <summary>
/// Causal grouped-query attention for a batch of tokens at positions start..start+n−1, one work item per
/// (token, KV head): att_p = q·k_p / √headDim for p ≤ pos, softmax, out = Σ_p att_p·v_p for each query head of the
/// KV head's group (query head h reads KV head h / (heads / kvHeads)). Keys and values of the batch are already in
/// the cache, so a token attends to the earlier tokens of its own batch as well.
/// </summary>
internal sealed unsafe class AttentionWork(LlamaConfig config, WorkerPool pool, int contextLength) : IParallelWork
{
    private readonly int _headDim = config.HeadDim;
    private readonly int _kvHeads = config.KvHeadCount;
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
            // One item is one KV head of one token: its group's scores and weighted sums over ≤ start + n positions.
            pool.For(n * _kvHeads, 1, this, 2L * (start + n) * _headDim * _queriesPerKv);
            _q = _keys = _values = _output = null;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Execute(int startItem, int endItem, int worker)
    {
        int groupWidth = _queriesPerKv * _headDim;
        for (int item = startItem; item < endItem; item++)
        {
            int t = item / _kvHeads, g = item % _kvHeads, positions = _start + t + 1;
            Attend(new ReadOnlySpan<float>(_q + t * _qDim + g * groupWidth, groupWidth),
                new ReadOnlySpan<float>(_keys, positions * _kvDim), new ReadOnlySpan<float>(_values, positions * _kvDim),
                _kvDim, g * _headDim, _headDim, pool.Scratch(worker, _queriesPerKv * contextLength)[..(_queriesPerKv * positions)], _scale,
                new Span<float>(_output + t * _qDim + g * groupWidth, groupWidth), KernelPaths.Best);
        }
    }

    /// <summary>Query heads whose scores one <see cref="FixedOrder.Dots4x4(ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, int, Span{float}, KernelPath)"/> tile takes, against four positions.</summary>
    private const int TileHeads = 4;

    /// <summary>
    /// The query heads of one KV head's group at one position p_last = P − 1, with P = att.Length / heads:
    /// att[h, p] = q_h·k_p·scale for p ≤ p_last, softmax over p, out_h = Σ_p att[h, p]·v_p, reading the KV head's slice
    /// at <paramref name="kvOffset"/> of each cached row of <paramref name="kvDim"/> floats. Every attention path runs
    /// this, so a token's attention is the same whatever batch it is in.
    /// </summary>
    /// <remarks>
    /// Each score is <see cref="FixedOrder.Dot(ReadOnlySpan{float}, ReadOnlySpan{float}, KernelPath)"/> bit for bit, and
    /// each output element one fused multiply-add per position in position order (<see cref="StridedRowSums"/>), so the
    /// result does not depend on the tiling or on the vector width. The tiles read each key row once for four heads and
    /// each value row once for four outputs: a dot product call per position and head, as before, cost more in calls
    /// and reductions than in arithmetic at a head width of 64.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Attend(ReadOnlySpan<float> queries, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int kvDim, int kvOffset,
        int headDim, Span<float> att, float scale, Span<float> output, KernelPath path)
    {
        int heads = queries.Length / headDim, positions = att.Length / heads;
        if (heads * headDim != queries.Length || heads * positions != att.Length || output.Length != queries.Length
            || keys.Length < (long)(positions - 1) * kvDim + kvOffset + headDim || values.Length < (long)(positions - 1) * kvDim + kvOffset + headDim)
            throw new ArgumentException($"attention of {queries.Length / (double)headDim} heads of {headDim} over {att.Length / (double)heads} positions does not fit its buffers");
        Span<float> tile = stackalloc float[TileHeads * TileHeads];
        for (int h0 = 0; h0 < heads; h0 += TileHeads)
        {
            int count = Math.Min(TileHeads, heads - h0), p = 0;
            if (count == TileHeads)
                for (; p + TileHeads <= positions; p += TileHeads)
                {
                    // tile[4r + i] = k_(p+r)·q_(h0+i)
                    FixedOrder.Dots4x4(keys[(p * kvDim + kvOffset)..], kvDim, queries[(h0 * headDim)..], headDim, headDim, tile, path);
                    for (int i = 0; i < TileHeads; i++)
                        for (int r = 0; r < TileHeads; r++) att[(h0 + i) * positions + p + r] = tile[TileHeads * r + i] * scale;
                }
            for (int i = h0; i < h0 + count; i++)
            {
                var q = queries.Slice(i * headDim, headDim);
                for (int s = p; s < positions; s++) att[i * positions + s] = FixedOrder.Dot(q, keys.Slice(s * kvDim + kvOffset, headDim), path) * scale;
            }
        }
        for (int h = 0; h < heads; h++) Softmax.Apply(att.Slice(h * positions, positions), path);
        output.Clear();
        // out_h += Σ_p att[h, p]·v_p for four heads at a time: c = att (heads P apart), m = the values' rows.
        for (int h0 = 0; h0 < heads; h0 += TileHeads)
            StridedRowSums.Add(att[(h0 * positions)..], 1, 0, positions, values[kvOffset..], kvDim, 0, positions, 1,
                output[(h0 * headDim)..], headDim, Math.Min(TileHeads, heads - h0), headDim, path);
    }
}
