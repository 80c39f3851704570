using Caldera.Runtime.Model;

namespace Caldera.Runtime.Inference;

/// <summary>
/// Every activation buffer the forward pass writes, allocated once (llama2.c's <c>RunState</c>). Buffers hold up to
/// <see cref="BatchSize"/> tokens, one row per token: a decode step uses row 0, a prefill chunk n rows of one sequence,
/// a batch of decode steps one row per sequence. The keys and values live in each sequence's <see cref="KvCache"/>.
/// </summary>
internal sealed class RunState
{
    public RunState(LlamaConfig config, int batchSize)
    {
        BatchSize = batchSize;
        X = new float[batchSize * config.Dim];
        Xb = new float[batchSize * Math.Max(config.Dim, config.QDim)];
        Xb2 = new float[batchSize * config.Dim];
        Hb = new float[batchSize * config.HiddenDim];
        Hb2 = new float[batchSize * config.HiddenDim];
        Q = new float[batchSize * config.QDim];
        K = new float[batchSize * config.KvDim];
        V = new float[batchSize * config.KvDim];
        Logits = new float[config.VocabSize];
    }

    public int BatchSize { get; }

    /// <summary>The residual stream: tokens × dim.</summary>
    public float[] X { get; }

    /// <summary>Normalised input of a sub-block, then the attention output (tokens × max(dim, heads·headDim)).</summary>
    public float[] Xb { get; }

    /// <summary>A sub-block's output before it is added to the residual (tokens × dim).</summary>
    public float[] Xb2 { get; }

    /// <summary>SwiGLU gate then silu(gate)·up (tokens × hidden).</summary>
    public float[] Hb { get; }

    /// <summary>SwiGLU up projection (tokens × hidden).</summary>
    public float[] Hb2 { get; }

    /// <summary>Queries (tokens × heads·headDim).</summary>
    public float[] Q { get; }

    /// <summary>
    /// Keys and values of a batch of decode steps (tokens × kvHeads·headDim), before each row is copied to its own
    /// sequence's cache; a single sequence's pass writes them straight into its cache instead.
    /// </summary>
    public float[] K { get; }

    /// <inheritdoc cref="K"/>
    public float[] V { get; }

    /// <summary>The last token's logits (vocab).</summary>
    public float[] Logits { get; }
}
