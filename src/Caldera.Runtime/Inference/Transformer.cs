using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Inference;

/// <summary>
/// The Llama forward pass (llama2.c's <c>forward</c>): token embedding, then per block
/// x += W_o·attention(RoPE(W_q·rms(x)), RoPE(W_k·rms(x)), W_v·rms(x)) and
/// x += W_down·(silu(W_gate·rms(x)) ⊙ W_up·rms(x)), then logits = W_cls·rms(x).
/// <see cref="Decode"/> runs one token (matrix–vector work); <see cref="Prefill(ReadOnlySpan{int}, int)"/>
/// runs a whole prompt as matrix–matrix work with causal attention inside the batch. Neither allocates. Both run on
/// the transformer's own <see cref="KvCache"/>; the overloads that take a cache run any sequence's (a session's), and
/// <see cref="DecodeSteps"/> runs one decode step each of several sequences together.
/// </summary>
internal sealed class Transformer : IDisposable
{
    private readonly WorkerPool _pool;
    private readonly TransformerWeights _weights;
    private readonly RunState _state;
    private readonly RopeTable _rope;
    private readonly TransformerBlock _block;
    private readonly int _prefillBatchSize;
    private readonly int[] _oneToken = new int[1];
    private KvCache? _cache;

    /// <summary>Runs <paramref name="checkpoint"/>'s weights as stored (F32/F16/BF16), read in place.</summary>
    public Transformer(ModelCheckpoint checkpoint, TransformerOptions? options = null)
        : this(checkpoint.Config, binding => TransformerWeights.Dense(checkpoint, binding), options)
    {
    }

    /// <summary>
    /// Runs weights bound by <paramref name="bind"/> (e.g. compressed matrices) on this transformer's worker pool, in the
    /// arithmetic <paramref name="options"/> choose (<see cref="LinearBinding"/>).
    /// </summary>
    public Transformer(LlamaConfig config, Func<LinearBinding, TransformerWeights> bind, TransformerOptions? options = null)
    {
        options ??= new TransformerOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Threads, 1, nameof(options.Threads));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.PrefillBatchSize, 1, nameof(options.PrefillBatchSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.DecodeStepsBatchSize, 1, nameof(options.DecodeStepsBatchSize));
        if (!Enum.IsDefined(options.ClassifierPrecision))
            throw new ArgumentOutOfRangeException(nameof(options), $"classifier precision {(int)options.ClassifierPrecision} is not one of Stored, Int8, Int6");
        int contextLength = options.ContextLength ?? config.ContextLength;
        if (contextLength < 1 || contextLength > config.ContextLength)
            throw new ArgumentOutOfRangeException(nameof(options), $"context length {contextLength} is outside 1..{config.ContextLength}, the model's context");
        Config = config;
        ContextLength = contextLength;
        _pool = new WorkerPool(options.Threads);
        try
        {
            _weights = bind(new LinearBinding(_pool, options.Int8Activations, options.ClassifierPrecision));
            _prefillBatchSize = Math.Min(options.PrefillBatchSize, contextLength);
            DecodeStepsBatchSize = options.DecodeStepsBatchSize;
            _state = new RunState(config, Math.Max(_prefillBatchSize, DecodeStepsBatchSize), initialTokens: 1);
            _rope = RopeTable.For(config, contextLength);
            _block = new TransformerBlock(config, _state, _rope, new AttentionWork(config, _pool, contextLength), new DecodeStepsAttention(config, _pool));
        }
        catch
        {
            _pool.Dispose();
            throw;
        }
    }

    public LlamaConfig Config { get; }

    /// <summary>Positions the KV cache holds: the last position is ContextLength − 1.</summary>
    public int ContextLength { get; }

    public int Threads => _pool.ThreadCount;

    /// <summary>The most sequences one <see cref="DecodeSteps"/> call runs.</summary>
    public int DecodeStepsBatchSize { get; }

    /// <summary>The cache of <see cref="Decode"/> and the prefills that take none, made at their first call.</summary>
    private KvCache Cache => _cache ??= NewCache();

    /// <summary>An empty cache for one more sequence on these weights (a session's), as long as this transformer's context.</summary>
    public KvCache NewCache() => new(Config, ContextLength);

    /// <summary>Runs <paramref name="token"/> at <paramref name="position"/> and returns the next-token logits (valid until the next call).</summary>
    public ReadOnlySpan<float> Decode(int token, int position)
    {
        _oneToken[0] = token;
        Forward(Cache, _oneToken, position, default, lastLogits: true, observer: null);
        return _state.Logits;
    }

    /// <summary>
    /// One decode step of each of n = tokens.Length sequences: tokens[t] at positions[t] of the sequence whose cache is
    /// caches[t]; row t of <paramref name="logits"/> (n × vocab) receives its next-token logits, bit for bit what
    /// <see cref="Decode"/> gives that sequence alone (every matrix through <see cref="ILinear.ApplyDecodeSteps"/>).
    /// </summary>
    public void DecodeSteps(ReadOnlySpan<int> tokens, int[] positions, KvCache[] caches, Span<float> logits)
    {
        var c = Config;
        int n = tokens.Length, dim = c.Dim, vocab = c.VocabSize;
        if (n < 1 || n > DecodeStepsBatchSize || positions.Length < n || caches.Length < n || logits.Length != (long)n * vocab)
            throw new ArgumentException($"{n} decode steps need 1..{DecodeStepsBatchSize} tokens, as many positions and caches, and {n}×{vocab} logits");
        _state.EnsureCapacity(n);
        var s = _state;
        var x = s.X.AsSpan(0, n * dim);
        var xb = s.Xb.AsSpan(0, n * dim);
        for (int t = 0; t < n; t++)
        {
            if ((uint)tokens[t] >= (uint)c.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), $"token id {tokens[t]} is outside the vocabulary of {c.VocabSize}");
            if (positions[t] < 0 || positions[t] >= caches[t].ContextLength || positions[t] >= ContextLength)
                throw new ArgumentOutOfRangeException(nameof(positions), $"position {positions[t]} is outside the context of {Math.Min(ContextLength, caches[t].ContextLength)}");
            caches[t].EnsureCapacity(positions[t] + 1);
            _weights.TokenEmbedding.ReadRow(tokens[t], x.Slice(t * dim, dim));
        }
        for (int l = 0; l < c.LayerCount; l++)
            _block.ForwardDecodeSteps(_weights.Layers[l], l, x, n, positions, caches);
        for (int t = 0; t < n; t++) RmsNorm.Apply(x.Slice(t * dim, dim), _weights.OutputNorm, c.NormEpsilon, xb.Slice(t * dim, dim));
        _weights.Classifier.ApplyDecodeSteps(xb, logits, n);
    }

    /// <summary>Runs <paramref name="tokens"/> at positions from <paramref name="startPosition"/> and returns the logits after the last one.</summary>
    public ReadOnlySpan<float> Prefill(ReadOnlySpan<int> tokens, int startPosition) => Prefill(tokens, startPosition, observer: null);

    /// <summary>
    /// Like <see cref="Prefill(ReadOnlySpan{int}, int)"/>, showing <paramref name="observer"/> the inputs of every
    /// block's matrices (calibration hooks on an ordinary forward pass).
    /// </summary>
    public ReadOnlySpan<float> Prefill(ReadOnlySpan<int> tokens, int startPosition, IActivationObserver? observer) =>
        Prefill(Cache, tokens, startPosition, observer);

    /// <summary>
    /// Runs <paramref name="tokens"/> of the sequence whose cache is <paramref name="cache"/> at positions from
    /// <paramref name="startPosition"/>, in chunks of the prefill batch size, and returns the logits after the last one.
    /// </summary>
    public ReadOnlySpan<float> Prefill(KvCache cache, ReadOnlySpan<int> tokens, int startPosition, IActivationObserver? observer = null)
    {
        if (tokens.IsEmpty) throw new ArgumentException("nothing to prefill", nameof(tokens));
        for (int done = 0; done < tokens.Length; done += _prefillBatchSize)
        {
            int n = Math.Min(_prefillBatchSize, tokens.Length - done);
            Forward(cache, tokens.Slice(done, n), startPosition + done, default, lastLogits: done + n == tokens.Length, observer);
        }
        return _state.Logits;
    }

    /// <summary>Prompt tokens one prefill pass runs; a scheduler that chunks a prompt itself chunks at this size.</summary>
    public int PrefillBatchSize => _prefillBatchSize;

    /// <summary>Like <see cref="Prefill(ReadOnlySpan{int}, int)"/>, writing every position's logits into <paramref name="logits"/> (tokens × vocab).</summary>
    public void Prefill(ReadOnlySpan<int> tokens, int startPosition, Span<float> logits)
    {
        if (tokens.IsEmpty) throw new ArgumentException("nothing to prefill", nameof(tokens));
        int vocab = Config.VocabSize;
        if (logits.Length != (long)tokens.Length * vocab)
            throw new ArgumentException($"logits must hold {tokens.Length}×{vocab} floats", nameof(logits));
        for (int done = 0; done < tokens.Length; done += _prefillBatchSize)
        {
            int n = Math.Min(_prefillBatchSize, tokens.Length - done);
            Forward(Cache, tokens.Slice(done, n), startPosition + done, logits.Slice(done * vocab, n * vocab), lastLogits: false, observer: null);
        }
    }

    /// <summary>
    /// One pass over n ≤ BatchSize tokens at positions start..start+n−1. Writes every token's logits into
    /// <paramref name="allLogits"/> when it is not empty, and the last token's into the state when
    /// <paramref name="lastLogits"/> (a prompt chunk that is not the last needs neither).
    /// </summary>
    private void Forward(KvCache cache, ReadOnlySpan<int> tokens, int start, Span<float> allLogits, bool lastLogits, IActivationObserver? observer)
    {
        var c = Config;
        int n = tokens.Length, dim = c.Dim;
        int context = Math.Min(ContextLength, cache.ContextLength);
        if (start < 0 || start + n > context)
            throw new ArgumentOutOfRangeException(nameof(start), $"positions {start}..{start + n - 1} are outside the context of {context}");
        cache.EnsureCapacity(start + n);
        _state.EnsureCapacity(n);
        var s = _state;
        var x = s.X.AsSpan(0, n * dim);
        var xb = s.Xb.AsSpan(0, n * dim);

        for (int t = 0; t < n; t++)
        {
            if ((uint)tokens[t] >= (uint)c.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), $"token id {tokens[t]} is outside the vocabulary of {c.VocabSize}");
            _weights.TokenEmbedding.ReadRow(tokens[t], x.Slice(t * dim, dim));
        }

        for (int l = 0; l < c.LayerCount; l++)
            _block.Forward(_weights.Layers[l], l, cache, l, x, start, n, observer);

        if (!allLogits.IsEmpty)
        {
            for (int t = 0; t < n; t++) RmsNorm.Apply(x.Slice(t * dim, dim), _weights.OutputNorm, c.NormEpsilon, xb.Slice(t * dim, dim));
            _weights.Classifier.ApplyBatch(xb, allLogits, n);
        }
        else if (lastLogits)
        {
            RmsNorm.Apply(x.Slice((n - 1) * dim, dim), _weights.OutputNorm, c.NormEpsilon, xb[..dim]);
            _weights.Classifier.Apply(xb[..dim], s.Logits);
        }
    }

    /// <summary>The background build of <see cref="PrepareDecodeInBackground"/>, once started.</summary>
    private Task? _preparing;
    private volatile bool _disposing;

    /// <summary>The build <see cref="PrepareDecodeInBackground"/> started, or null.</summary>
    internal Task? DecodePreparation => _preparing;

    /// <summary>
    /// Builds every matrix's decode-only data (<see cref="ILinear.PrepareDecode"/>: a compressed matrix's int8 L planes) on a
    /// pool thread, block by block in the order a pass reads them, so that a first short prompt or decode step finds
    /// them built instead of building them on its own critical path (a pass that gets there first builds that matrix's
    /// itself, and the thread behind it waits for it). The result is the same either way: this only moves the work. An
    /// app's model starts it at load, while the other core verifies the file and builds the tokenizer.
    /// </summary>
    public void PrepareDecodeInBackground()
    {
        _preparing ??= Task.Run(() =>
        {
            foreach (var layer in _weights.Layers)
                foreach (var matrix in layer.Matrices)
                {
                    if (_disposing) return;
                    matrix.PrepareDecode();
                }
        });
    }

    public void Dispose()
    {
        _disposing = true;
        try
        {
            // The build reads the mapped codes: it ends before whoever owns them unmaps them.
            _preparing?.Wait();
        }
        catch (AggregateException)
        {
            // Whatever failed there fails again where a pass builds that matrix's data itself, and is reported there.
        }
        _pool.Dispose();
    }
}
