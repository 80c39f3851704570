using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Caldera.Runtime.Compression;
using Caldera.CompilerServices;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// <see cref="CodedVectors"/> for 128-bit vectors (Arm NEON, the portable <see cref="KernelPath.Vector128"/> path): one
/// code vector of eight weights is two registers, half 0 holding coordinates 0–3 and half 1 coordinates 4–7, each
/// decoded from the same L1-resident tables (<see cref="E8PFactoredTables"/>) with one FMA:
///   C[w][4h, 4h+4) = P̃[w ≫ 8][4h, 4h+4) ⊙ S[w's signs][4h, 4h+4) + σ[w's shift]
/// Every lane is the same correctly rounded operation as in the 256-bit decode, so both halves together equal
/// <see cref="CodedVectors.E8P(ushort)"/> and the decode table bit for bit.
/// </summary>
internal static class CodedHalves
{
    private const int D = E8PLattice.Dimension;

    /// <summary>Floats per half: a Vector128 of floats.</summary>
    public const int Width = D / 2;

    /// <summary>Half <paramref name="half"/> (0 or 1) of the E8P codeword of the low 16 bits of <paramref name="word"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> E8P(ref float patterns, ref float signsAndShifts, uint word, nuint half)
    {
        nuint low = (nuint)(word & 0xFF) * E8PFactoredTables.LowByteStride + half * Width;
        return Vector128.FusedMultiplyAdd(
            Vector128.LoadUnsafe(ref patterns, (nuint)(word >> 8 & 0xFF) * D + half * Width),
            Vector128.LoadUnsafe(ref signsAndShifts, low),
            Vector128.LoadUnsafe(ref signsAndShifts, low + D));
    }

    /// <summary>Half <paramref name="half"/> of the codeword less its shift: P̃[w ≫ 8] ⊙ S[w's signs] (see <see cref="CodedVectors.E8PUnshifted"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> E8PUnshifted(ref float patterns, ref float signsAndShifts, uint word, nuint half) =>
        Vector128.LoadUnsafe(ref patterns, (nuint)(word >> 8 & 0xFF) * D + half * Width) *
        Vector128.LoadUnsafe(ref signsAndShifts, (nuint)(word & 0xFF) * E8PFactoredTables.LowByteStride + half * Width);

    /// <summary>Half <paramref name="half"/> of the 4-bit residual codeword q₁ + q₂/ρ of the pair (<paramref name="first"/>, <paramref name="second"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Residual(ref float patterns, ref float signsAndShifts, uint first, uint second, nuint half) =>
        E8P(ref patterns, ref signsAndShifts, first, half) + DivideByResidualScale(E8P(ref patterns, ref signsAndShifts, second, half));

    /// <summary>q/ρ correctly rounded without a division, as <see cref="CodedVectors.DivideByResidualScale"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> DivideByResidualScale(Vector128<float> q)
    {
        var inverse = Vector128.Create(1f / E8PResidualLattice.ResidualScale);
        var quotient = q * inverse;
        var remainder = Vector128.FusedMultiplyAdd(-quotient, Vector128.Create(E8PResidualLattice.ResidualScale), q);
        return Vector128.FusedMultiplyAdd(remainder, inverse, quotient);
    }
}
