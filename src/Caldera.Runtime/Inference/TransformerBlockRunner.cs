using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Inference;

/// <summary>
/// Runs decoder blocks one at a time over whole sequences, for calibration: the caller keeps the residual
/// stream of every calibration token and moves it through block l, then block l+1, so only one block's
/// weights and one sequence's KV cache (sequence length × kvDim, one layer) are live. It computes exactly
/// what <see cref="Transformer.Prefill(ReadOnlySpan{int}, int, IActivationObserver?)"/> computes for the same
/// prefill batch size, with the same kernels.
/// </summary>
internal sealed class TransformerBlockRunner : IDisposable
{
    private readonly TransformerBlock _block;
    private readonly RunState _state;
    private readonly KvCache _cache;

    /// <param name="sequenceLength">Tokens per sequence, at positions 0..sequenceLength−1.</param>
    /// <param name="options">Threads and prefill batch size (the context length is <paramref name="sequenceLength"/>).</param>
    public TransformerBlockRunner(LlamaConfig config, int sequenceLength, TransformerOptions? options = null)
    {
        options ??= new TransformerOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Threads, 1, nameof(options.Threads));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.PrefillBatchSize, 1, nameof(options.PrefillBatchSize));
        if (sequenceLength < 1 || sequenceLength > config.ContextLength)
            throw new ArgumentOutOfRangeException(nameof(sequenceLength), $"sequence length {sequenceLength} is outside 1..{config.ContextLength}, the model's context");
        Config = config;
        SequenceLength = sequenceLength;
        Pool = new WorkerPool(options.Threads);
        try
        {
            // One KV-cache slot: every block reuses it, since a block only attends within its own layer.
            _state = new RunState(config, Math.Min(options.PrefillBatchSize, sequenceLength));
            _cache = new KvCache(config with { LayerCount = 1 }, sequenceLength);
            _cache.EnsureCapacity(sequenceLength);
            var rope = RopeTable.For(config, sequenceLength);
            _block = new TransformerBlock(config, _state, rope, new AttentionWork(config, Pool, sequenceLength));
        }
        catch
        {
            Pool.Dispose();
            throw;
        }
    }

    public LlamaConfig Config { get; }
    public int SequenceLength { get; }

    /// <summary>The pool the block's <see cref="ILinear"/>s should be bound on.</summary>
    public WorkerPool Pool { get; }

    /// <summary>
    /// Moves one sequence's residual stream <paramref name="hidden"/> (SequenceLength × dim, positions from 0)
    /// through block <paramref name="layer"/> in place, showing <paramref name="observer"/> its linear inputs.
    /// </summary>
    public void Forward(LayerWeights weights, int layer, Span<float> hidden, IActivationObserver? observer)
    {
        int dim = Config.Dim;
        if (hidden.Length != (long)SequenceLength * dim)
            throw new ArgumentException($"hidden holds {hidden.Length} floats, not {SequenceLength} tokens × {dim}", nameof(hidden));
        for (int done = 0; done < SequenceLength; done += _state.BatchSize)
        {
            int n = Math.Min(_state.BatchSize, SequenceLength - done);
            _block.Forward(weights, layer, _cache, 0, hidden.Slice(done * dim, n * dim), done, n, observer);
        }
    }

    public void Dispose() => Pool.Dispose();
}
