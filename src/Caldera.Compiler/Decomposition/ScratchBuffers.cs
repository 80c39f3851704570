namespace Caldera.Compiler.Decomposition;

/// <summary>
/// The large m×n arrays every outer iteration of one decomposition needs again (BlockLDLQ's U/G and E, the LR
/// initialisation's A·C, the inner steps' packed A and Aᵀ): a step rents them and returns them when
/// it ends, and a later rent of the same element type and length gets a returned one back.
/// </summary>
/// <remarks>
/// Fresh arrays are expensive here in a way their size does not suggest: touching a new 64 MB array costs 0.2–0.3 s of
/// page faults on this (paravirtualised) machine, against 1–4 ms to overwrite one already mapped, and the GC hands
/// back mapped memory only some of the time. At 4096² an outer iteration allocated about 0.7 GB of such arrays.
/// Returned arrays are shared between steps (the LR-update's m×n buffers serve BlockLDLQ's U and E when n is a
/// multiple of 8), so the pool holds about what the largest step needs, not the sum of all steps.
/// n×n arrays are not pooled: BlockLDLQ's n'×n' factor would otherwise stay alive through every LR-update (0.8 GB at
/// n = 14336), and one fresh array per Q-update costs little beside BlockLDLQ's m·n² flops.
/// A rented array's contents are whatever its last user left: every user overwrites or clears what it reads.
/// Not thread-safe: used from the decomposition's own thread, outside its parallel loops.
/// </remarks>
internal sealed class ScratchBuffers
{
    private readonly Dictionary<(Type, long), Stack<Array>> returned = [];

    /// <summary>An array of exactly <paramref name="length"/> elements: a returned one if any, else a new uninitialised one.</summary>
    public T[] Rent<T>(long length) where T : unmanaged =>
        returned.TryGetValue((typeof(T), length), out var free) && free.Count > 0
            ? (T[])free.Pop()
            : GC.AllocateUninitializedArray<T>(checked((int)length));

    /// <summary>The bytes of the arrays returned and not rented again: what the pool keeps alive.</summary>
    public long Bytes => returned.Sum(e => e.Key.Item2 * System.Runtime.InteropServices.Marshal.SizeOf(e.Key.Item1) * e.Value.Count);

    /// <summary>Hands <paramref name="array"/> back; its renter must not use it afterwards.</summary>
    public void Return<T>(T[] array) where T : unmanaged
    {
        var key = (typeof(T), array.LongLength);
        if (!returned.TryGetValue(key, out var free)) returned[key] = free = new Stack<Array>();
        free.Push(array);
    }

    /// <summary>Returns <paramref name="arrays"/> to <paramref name="scratch"/>; without one they are left to the GC.</summary>
    public static void Return<T>(ScratchBuffers? scratch, params T[][] arrays) where T : unmanaged
    {
        if (scratch == null) return;
        foreach (var array in arrays) scratch.Return(array);
    }

    /// <summary><paramref name="scratch"/>'s <see cref="Rent{T}"/>, or a new array without one.</summary>
    public static T[] Rent<T>(ScratchBuffers? scratch, long length) where T : unmanaged =>
        scratch?.Rent<T>(length) ?? GC.AllocateUninitializedArray<T>(checked((int)length));
}
