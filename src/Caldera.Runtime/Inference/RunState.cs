using Caldera.Runtime.Model;

namespace Caldera.Runtime.Inference;

/// <summary>
/// Every activation buffer the forward pass writes, allocated once (llama2.c's <c>RunState</c>). Buffers hold up to
/// <see cref="BatchSize"/> tokens, one row per token: a decode step uses row 0, a prefill chunk n rows of one sequence,
/// a batch of decode steps one row per sequence. The keys and values live in each sequence's <see cref="KvCache"/>.
/// </summary>
internal sealed class RunState
{
    private readonly LlamaConfig _config;
    private int _capacity;

    /// <summary>Buffers for <paramref name="batchSize"/> tokens, of which <paramref name="initialTokens"/> are allocated now and the rest by <see cref="EnsureCapacity"/>.</summary>
    public RunState(LlamaConfig config, int batchSize, int? initialTokens = null)
    {
        _config = config;
        BatchSize = batchSize;
        Logits = new float[config.VocabSize];
        Allocate(Math.Clamp(initialTokens ?? batchSize, 1, batchSize));
    }

    /// <summary>
    /// Makes the buffers hold at least <paramref name="tokens"/> rows (at most <see cref="BatchSize"/>): a transformer
    /// starts with one row, so a first short prompt neither zeroes nor faults in the 5 MB that a 64-token batch of the
    /// dim-2048 model needs (2.7 ms of its first token). They grow at most a few times, by doubling, never per token.
    /// </summary>
    public void EnsureCapacity(int tokens)
    {
        if (tokens <= _capacity) return;
        if (tokens > BatchSize) throw new ArgumentOutOfRangeException(nameof(tokens), $"{tokens} tokens are more than the {BatchSize} these buffers hold");
        Allocate(Math.Min(BatchSize, Math.Max(tokens, 2 * _capacity)));
    }

    private void Allocate(int tokens)
    {
        var config = _config;
        _capacity = tokens;
        X = new float[tokens * config.Dim];
        Xb = new float[tokens * Math.Max(config.Dim, config.QDim)];
        Xb2 = new float[tokens * config.Dim];
        Hb = new float[tokens * config.HiddenDim];
        Hb2 = new float[tokens * config.HiddenDim];
        Q = new float[tokens * config.QDim];
        K = new float[tokens * config.KvDim];
        V = new float[tokens * config.KvDim];
    }

    public int BatchSize { get; }

    /// <summary>The residual stream: tokens × dim.</summary>
    public float[] X { get; private set; } = [];

    /// <summary>Normalised input of a sub-block, then the attention output (tokens × max(dim, heads·headDim)).</summary>
    public float[] Xb { get; private set; } = [];

    /// <summary>A sub-block's output before it is added to the residual (tokens × dim).</summary>
    public float[] Xb2 { get; private set; } = [];

    /// <summary>SwiGLU gate then silu(gate)·up (tokens × hidden).</summary>
    public float[] Hb { get; private set; } = [];

    /// <summary>SwiGLU up projection (tokens × hidden).</summary>
    public float[] Hb2 { get; private set; } = [];

    /// <summary>Queries (tokens × heads·headDim).</summary>
    public float[] Q { get; private set; } = [];

    /// <summary>
    /// Keys and values of a batch of decode steps (tokens × kvHeads·headDim), before each row is copied to its own
    /// sequence's cache; a single sequence's pass writes them straight into its cache instead.
    /// </summary>
    public float[] K { get; private set; } = [];

    /// <inheritdoc cref="K"/>
    public float[] V { get; private set; } = [];

    /// <summary>The last token's logits (vocab).</summary>
    public float[] Logits { get; }
}
