using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Caldera.Runtime.Compression;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// One code vector decoded into one register: the primitive every coded-row kernel is built from, the generic
/// ones in <see cref="CodedRows"/> and the shape-specialised ones a build generates. Eight weights are exactly one
/// Vector256 of floats, so a kernel is a loop of "decode vector v, FMA it with u[8v, 8v+8)".
/// </summary>
/// <remarks>
/// Decoding agrees bit for bit with <see cref="E8PLattice.DecodeRow"/> and <see cref="E8PResidualLattice.DecodeRow"/>
/// (x̂ = q₁ + q₂/ρ with a correctly rounded division), so generic and generated kernels differ only in summation order.
/// </remarks>
public static class CodedVectors
{
    /// <summary>The E8P codeword of <paramref name="word"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> E8P(ushort word) =>
        Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(E8PLattice.DecodeTable), (nuint)word * E8PLattice.Dimension);

    /// <summary>The 4-bit residual codeword q₁ + q₂/ρ of the word pair (<paramref name="first"/>, <paramref name="second"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Residual(ushort first, ushort second) =>
        E8P(first) + E8P(second) / Vector256.Create(E8PResidualLattice.ResidualScale);
}
