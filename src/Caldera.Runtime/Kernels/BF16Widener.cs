using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Caldera.Runtime.Kernels;

/// <summary>BF16 weights: a bf16 is the top 16 bits of an f32, so widening is zero-extend then shift left 16.</summary>
internal readonly unsafe struct BF16Widener : IElementWidener
{
    public static int ElementSize => sizeof(ushort);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Widen(byte* p) => BitConverter.UInt32BitsToSingle((uint)*(ushort*)p << 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Widen128(byte* p) =>
        Vector128.ShiftLeft(Vector128.WidenLower(Vector128.CreateScalar(*(ulong*)p).AsUInt16()), 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Widen256(byte* p)
    {
        var bits = Avx2.IsSupported
            ? Avx2.ConvertToVector256Int32((ushort*)p).AsUInt32()
            : Vector256.WidenLower(Vector256.Create(Vector128.Load((ushort*)p), Vector128<ushort>.Zero));
        return Vector256.ShiftLeft(bits, 16).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Widen512(byte* p) => Avx512F.IsSupported
        ? Vector512.ShiftLeft(Avx512F.ConvertToVector512UInt32(Vector256.Load((ushort*)p)), 16).AsSingle()
        : Vector512.Create(Widen256(p), Widen256(p + 16));
}
