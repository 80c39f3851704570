using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// F16 weights. .NET exposes no F16C/AVX-512 FP16 conversion intrinsic, so the vector paths widen with
/// integer ops: sign-extending h to 32 bits and shifting left 13 puts the sign at bit 31 and the 5-bit
/// exponent and 10-bit mantissa at bits 27..13, i.e. an f32 whose exponent is biased by 15 instead of 127.
/// Masking bits 30..28 and multiplying by 2^112 re-biases it, which also turns f16 subnormals into the
/// right f32 values: four vector ops per 16 weights, cheap enough to keep decode memory-bound.
/// </summary>
/// <remarks>
/// The vector paths require finite weights: exponent 31 (Inf/NaN) comes out as a finite value near
/// ±65536·(1 + mantissa). Fixing that up costs three more ops per vector and halves decode speed, and
/// every tensor is already checked finite when a <see cref="Model.ModelCheckpoint"/> is loaded.
/// </remarks>
internal readonly unsafe struct F16Widener : IElementWidener
{
    private const int SignExponentMantissa = unchecked((int)0x8FFFE000);
    private const int TwoPow112Bits = (127 + 112) << 23;

    public static int ElementSize => sizeof(ushort);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Widen(byte* p) => (float)*(Half*)p;

    /// <summary>The same bit moves on four weights: a sign-extending widen of one 64-bit load (sxtl on Arm).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Widen128(byte* p)
    {
        var h = Vector128.WidenLower(Vector128.CreateScalar(*(long*)p).AsInt16());
        var bits = Vector128.ShiftLeft(h, 13) & Vector128.Create(SignExponentMantissa);
        return bits.AsSingle() * Vector128.Create(TwoPow112Bits).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Widen256(byte* p)
    {
        var h = Avx2.IsSupported
            ? Avx2.ConvertToVector256Int32((short*)p)
            : Vector256.WidenLower(Vector256.Create(Vector128.Load((short*)p), Vector128<short>.Zero));
        var bits = Vector256.ShiftLeft(h, 13) & Vector256.Create(SignExponentMantissa);
        return bits.AsSingle() * Vector256.Create(TwoPow112Bits).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Widen512(byte* p)
    {
        if (!Avx512F.IsSupported) return Vector512.Create(Widen256(p), Widen256(p + 16));
        var h = Avx512F.ConvertToVector512Int32(Vector256.Load((short*)p));
        var bits = Vector512.ShiftLeft(h, 13) & Vector512.Create(SignExponentMantissa);
        return bits.AsSingle() * Vector512.Create(TwoPow112Bits).AsSingle();
    }
}
