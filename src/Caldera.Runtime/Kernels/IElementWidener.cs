using System.Runtime.Intrinsics;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// Widens stored weight elements (F32, F16, BF16) to F32, one at a time or a vector at a time. Kernels
/// are generic over it so the JIT specialises each one per weight type with the widening inlined into the
/// dot-product loop: the weights are read once from memory and never written back as F32.
/// </summary>
internal unsafe interface IElementWidener
{
    static abstract int ElementSize { get; }

    /// <summary>The element at <paramref name="p"/>.</summary>
    static abstract float Widen(byte* p);

    /// <summary>The 4 elements starting at <paramref name="p"/>.</summary>
    static abstract Vector128<float> Widen128(byte* p);

    /// <summary>The 8 elements starting at <paramref name="p"/>.</summary>
    static abstract Vector256<float> Widen256(byte* p);

    /// <summary>The 16 elements starting at <paramref name="p"/>.</summary>
    static abstract Vector512<float> Widen512(byte* p);
}
