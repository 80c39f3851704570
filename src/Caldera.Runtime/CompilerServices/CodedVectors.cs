using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Kernels;

namespace Caldera.CompilerServices;

/// <summary>
/// One code vector decoded into one register: the primitive every coded-row kernel is built from, the generic
/// ones in <see cref="CodedRows"/> and the shape-specialised ones a build generates. Eight weights are exactly one
/// Vector256 of floats, so a kernel is a loop of "decode vector v, FMA it with u[8v, 8v+8)".
/// </summary>
/// <remarks>
/// A word decodes in registers from the two L1-resident tables of <see cref="E8PFactoredTables"/>
/// (C[w] = P̃[w ≫ 8] ⊙ S[w's signs] + σ[w's shift]: three loads and one FMA, no 2 MiB gather). Decoding agrees bit
/// for bit with <see cref="E8PLattice.DecodeRow"/> and <see cref="E8PResidualLattice.DecodeRow"/> (x̂ = q₁ + q₂/ρ
/// with a correctly rounded division), so generic and generated kernels differ only in summation order.
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class CodedVectors
{
    /// <summary>The E8P codeword of <paramref name="word"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> E8P(ushort word) =>
        E8P(ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.Patterns),
            ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.SignsAndShifts), word);

    /// <summary>The 4-bit residual codeword q₁ + q₂/ρ of the word pair (<paramref name="first"/>, <paramref name="second"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Residual(ushort first, ushort second) =>
        Residual(ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.Patterns),
            ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.SignsAndShifts), first, second);

    /// <summary>
    /// The codeword of <paramref name="word"/> less its shift σ = ±¼: P̃[w ≫ 8] ⊙ S[w's signs]. Row kernels that add
    /// the shifts once through block sums of u (Σ_v σ_v·Σu_v) decode with this, one table load fewer per word.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> E8PUnshifted(ushort word) =>
        Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.Patterns), (nuint)(word >> 8) * E8PLattice.Dimension) *
        Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.SignsAndShifts), (nuint)(word & 0xFF) * E8PFactoredTables.LowByteStride);

    /// <summary>
    /// Bit 0 (the shift bit: set ⇔ σ = −¼) of the eight words at <paramref name="words"/>, moved to the float sign
    /// position of each lane: XOR with eight block sums gives ±b_v, the shift term of eight code vectors at once.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> ShiftSignBits(ref ushort words) =>
        Vector256.ShiftLeft(Vector256.WidenLower(Vector128.LoadUnsafe(ref words).ToVector256Unsafe()), 31);

    /// <summary>
    /// z += a·decode(<paramref name="words"/>) over a segment of one 4-bit residual row whose length need not be a
    /// multiple of 8: the generic kernel, for the tail a generated AddL leaves after its whole code vectors.
    /// </summary>
    public static void AddResidual(ReadOnlySpan<ushort> words, float a, Span<float> z) => CodedRows.AddResidual(words, a, z);

    /// <summary><see cref="E8P(ushort)"/> with the table references hoisted out of a kernel's loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> E8P(ref float patterns, ref float signsAndShifts, uint word)
    {
        nuint low = (nuint)(word & 0xFF) * E8PFactoredTables.LowByteStride;
        return Vector256.FusedMultiplyAdd(
            Vector256.LoadUnsafe(ref patterns, (nuint)(word >> 8) * E8PLattice.Dimension),
            Vector256.LoadUnsafe(ref signsAndShifts, low),
            Vector256.LoadUnsafe(ref signsAndShifts, low + E8PLattice.Dimension));
    }

    /// <summary><see cref="Residual(ushort, ushort)"/> with the table references hoisted out of a kernel's loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Residual(ref float patterns, ref float signsAndShifts, uint first, uint second) =>
        E8P(ref patterns, ref signsAndShifts, first) + DivideByResidualScale(E8P(ref patterns, ref signsAndShifts, second));

    /// <summary>
    /// q/ρ correctly rounded without a division: q̃ = q·(1/ρ), then one Newton–Markstein step q̃ + (q − q̃·ρ)·(1/ρ)
    /// with the remainder exact under FMA. A codeword entry takes only the twelve values ±{¼, ¾, …, 2¾}, and for each
    /// this equals fl(q/ρ) (a test checks all of them against the division), while a division costs several times more.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> DivideByResidualScale(Vector256<float> q)
    {
        var inverse = Vector256.Create(1f / E8PResidualLattice.ResidualScale);
        var quotient = q * inverse;
        var remainder = Vector256.FusedMultiplyAdd(-quotient, Vector256.Create(E8PResidualLattice.ResidualScale), q);
        return Vector256.FusedMultiplyAdd(remainder, inverse, quotient);
    }
}
