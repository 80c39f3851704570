using Caldera.Runtime.Model;

namespace Caldera.Runtime.Inference;

/// <summary>
/// Every buffer the forward pass writes, allocated once (llama2.c's <c>RunState</c>). Activations hold
/// up to <see cref="BatchSize"/> tokens, one row per token: decode uses row 0, prefill uses n rows.
/// The key and value projections are written straight into the KV cache at their positions, so k and v
/// are views of <see cref="KeyCache"/> and <see cref="ValueCache"/> rather than buffers of their own.
/// </summary>
internal sealed class RunState
{
    public RunState(LlamaConfig config, int batchSize, int contextLength)
    {
        BatchSize = batchSize;
        RequireKvCacheFits(config, contextLength);
        long perLayer = (long)contextLength * config.KvDim;

        X = new float[batchSize * config.Dim];
        Xb = new float[batchSize * Math.Max(config.Dim, config.QDim)];
        Xb2 = new float[batchSize * config.Dim];
        Hb = new float[batchSize * config.HiddenDim];
        Hb2 = new float[batchSize * config.HiddenDim];
        Q = new float[batchSize * config.QDim];
        Logits = new float[config.VocabSize];
        KeyCache = new float[config.LayerCount][];
        ValueCache = new float[config.LayerCount][];
        for (int l = 0; l < config.LayerCount; l++)
        {
            KeyCache[l] = new float[perLayer];
            ValueCache[l] = new float[perLayer];
        }
    }

    /// <summary>Bytes of the KV cache for <paramref name="contextLength"/> positions: 2 · layers · positions · kv_dim floats.</summary>
    public static long KvCacheBytes(LlamaConfig config, int contextLength) => 2L * config.LayerCount * contextLength * config.KvDim * sizeof(float);

    /// <summary>
    /// Throws, before anything is allocated, where the KV cache of <paramref name="contextLength"/> positions cannot be
    /// allocated: a layer's cache above the largest array, or the whole above the memory this process may use (the
    /// machine's, or a container's limit). Called when a model class loads, so a device too small for the model's
    /// context fails there, not at its first generation.
    /// </summary>
    public static void RequireKvCacheFits(LlamaConfig config, int contextLength)
    {
        if ((long)contextLength * config.KvDim > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(contextLength),
                $"a KV cache of {contextLength} positions × {config.KvDim} floats per layer is too large; use a shorter context length");
        long bytes = KvCacheBytes(config, contextLength), available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (bytes > available)
            throw new ArgumentOutOfRangeException(nameof(contextLength),
                $"a KV cache of {contextLength} positions needs {bytes >> 20} MiB, more than the {available >> 20} MiB this process may use; "
                + "use a shorter context length (CalderaModelOptions.ContextLength; caldera run --steps)");
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

    /// <summary>The last token's logits (vocab).</summary>
    public float[] Logits { get; }

    /// <summary>Per layer: positions × kvHeads·headDim, RoPE already applied.</summary>
    public float[][] KeyCache { get; }

    /// <summary>Per layer: positions × kvHeads·headDim.</summary>
    public float[][] ValueCache { get; }
}
