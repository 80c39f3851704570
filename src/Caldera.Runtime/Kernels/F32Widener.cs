using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Caldera.Runtime.Kernels;

/// <summary>F32 weights: widening is a plain (unaligned) load.</summary>
internal readonly unsafe struct F32Widener : IElementWidener
{
    public static int ElementSize => sizeof(float);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Widen(byte* p) => *(float*)p;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Widen128(byte* p) => Vector128.Load((float*)p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Widen256(byte* p) => Vector256.Load((float*)p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Widen512(byte* p) => Vector512.Load((float*)p);
}
