namespace Caldera.Compiler.Decomposition;

/// <summary>
/// The large arrays every outer iteration of one decomposition needs again (H_q, its fp32 copy and factor, BlockLDLQ's
/// U/G and E, the LR initialisation's A·C and its fp64 copy, the inner steps' packed A and Aᵀ), each allocated once
/// and handed back on every later request for the same purpose and length.
/// </summary>
/// <remarks>
/// Fresh arrays are expensive here in a way their size does not suggest: touching a new 64 MB array costs 0.2–0.3 s of
/// page faults on this (paravirtualised) machine, against 1–4 ms to overwrite one already mapped, and the GC hands
/// back mapped memory only some of the time. At 4096² an outer iteration allocated about 0.7 GB of such arrays.
/// A buffer's contents are whatever its last user left: every user overwrites or clears what it reads. Buffers of
/// different purposes are never alive at once within a step, so the purposes are the only bookkeeping. Not thread-safe:
/// requested from the decomposition's own thread, outside its parallel loops.
/// </remarks>
internal sealed class ScratchBuffers
{
    private readonly Dictionary<(Type, string), Array> arrays = [];

    /// <summary>An array of exactly <paramref name="length"/> elements for <paramref name="purpose"/>, uninitialised on first use.</summary>
    public T[] Get<T>(string purpose, long length) where T : unmanaged
    {
        if (arrays.TryGetValue((typeof(T), purpose), out var existing) && existing.LongLength == length) return (T[])existing;
        var fresh = GC.AllocateUninitializedArray<T>(checked((int)length));
        arrays[(typeof(T), purpose)] = fresh;
        return fresh;
    }

    /// <summary><paramref name="scratch"/>'s buffer for <paramref name="purpose"/>, or a fresh array without one.</summary>
    public static T[] Get<T>(ScratchBuffers? scratch, string purpose, long length) where T : unmanaged =>
        scratch?.Get<T>(purpose, length) ?? GC.AllocateUninitializedArray<T>(checked((int)length));
}
