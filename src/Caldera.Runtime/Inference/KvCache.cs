using Caldera.Runtime.Model;

namespace Caldera.Runtime.Inference;

/// <summary>
/// One sequence's keys and values, per layer: positions × kvHeads·headDim, RoPE already applied to the keys. A
/// session owns one, so many sequences share one set of weights. It starts small and doubles as positions are written
/// (up to <see cref="ContextLength"/>), so a short conversation costs what it holds, not the whole context.
/// </summary>
internal sealed class KvCache
{
    /// <summary>Positions a new cache holds before it first grows.</summary>
    private const int InitialPositions = 256;

    private readonly int _kvDim;

    public KvCache(LlamaConfig config, int contextLength)
    {
        if (contextLength < 1) throw new ArgumentOutOfRangeException(nameof(contextLength), $"a KV cache needs at least one position, not {contextLength}");
        // Checked now, not when the cache has grown to it: a conversation that fills its context must not fail half-way.
        RequireFits(config, contextLength);
        ContextLength = contextLength;
        _kvDim = config.KvDim;
        Keys = new float[config.LayerCount][];
        Values = new float[config.LayerCount][];
        int positions = Math.Min(contextLength, InitialPositions);
        for (int l = 0; l < config.LayerCount; l++)
        {
            Keys[l] = new float[positions * _kvDim];
            Values[l] = new float[positions * _kvDim];
        }
    }

    /// <summary>The most positions the cache can hold: the last position is ContextLength − 1.</summary>
    public int ContextLength { get; }

    /// <summary>Positions the arrays hold now.</summary>
    public int Capacity => Keys.Length == 0 ? ContextLength : Keys[0].Length / _kvDim;

    /// <summary>Per layer: positions × kvDim, RoPE applied.</summary>
    public float[][] Keys { get; }

    /// <summary>Per layer: positions × kvDim.</summary>
    public float[][] Values { get; }

    /// <summary>Bytes of a full cache of <paramref name="contextLength"/> positions: 2 · layers · positions · kv_dim floats.</summary>
    public static long Bytes(LlamaConfig config, int contextLength) => 2L * config.LayerCount * contextLength * config.KvDim * sizeof(float);

    /// <summary>
    /// Throws, before anything is allocated, where <paramref name="caches"/> full caches of <paramref name="contextLength"/>
    /// positions cannot be allocated: a layer's cache above the largest array, or the whole above the memory this process
    /// may use (the machine's, or a container's limit). A model class runs it when it loads, for as many caches as it
    /// allows sessions, so a device too small for the model's context fails there, not at its first generation.
    /// </summary>
    public static void RequireFits(LlamaConfig config, int contextLength, int caches = 1)
    {
        if ((long)contextLength * config.KvDim > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(contextLength),
                $"a KV cache of {contextLength} positions × {config.KvDim} floats per layer is too large; use a shorter context length");
        long bytes = caches * Bytes(config, contextLength), available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (bytes <= available) return;
        throw new ArgumentOutOfRangeException(nameof(contextLength), caches == 1
            ? $"a KV cache of {contextLength} positions needs {bytes >> 20} MiB, more than the {available >> 20} MiB this process may use; "
              + "use a shorter context length (CalderaModelOptions.ContextLength; caldera run --steps)"
            : $"{caches} sessions of {contextLength} positions need up to {bytes >> 20} MiB of KV cache, more than the {available >> 20} MiB "
              + "this process may use; lower CalderaModelOptions.MaxSessions or ContextLength");
    }

    /// <summary>Grows the arrays (doubling, at most to the context) so that positions 0..<paramref name="positions"/>−1 fit, keeping what they hold.</summary>
    public void EnsureCapacity(int positions)
    {
        if (positions > ContextLength)
            throw new ArgumentOutOfRangeException(nameof(positions), $"positions up to {positions - 1} are outside the context of {ContextLength}");
        int capacity = Capacity;
        if (positions <= capacity) return;
        int grown = (int)Math.Min(ContextLength, Math.Max(positions, 2L * capacity));
        for (int l = 0; l < Keys.Length; l++)
        {
            Array.Resize(ref Keys[l], grown * _kvDim);
            Array.Resize(ref Values[l], grown * _kvDim);
        }
    }
}
