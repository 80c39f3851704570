using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Caldera.Tests;

/// <summary>An instruction set (or vector width) that a kernel path needs.</summary>
public enum Isa
{
    /// <summary>256-bit vectors in hardware (AVX2 on x86-64, not Arm's 128-bit NEON).</summary>
    Vector256,
    /// <summary>512-bit vectors in hardware (AVX-512).</summary>
    Vector512,
    /// <summary>AVX2: the integer kernels' first vector path (<c>Int8CodedRows.Path.Avx2</c>).</summary>
    Avx2,
    /// <summary>AVX-VNNI: int8 dot products in one instruction.</summary>
    AvxVnni,
    /// <summary>AVX-512 VBMI, BW and GFNI: the register decode of E8P codes.</summary>
    Avx512VbmiGfni,
}

/// <summary>
/// A fact that compares a path needing <see cref="Isa"/> with its reference. On a CPU without it the test is reported
/// as skipped, with the reason, at discovery, rather than passing having checked nothing.
/// </summary>
public sealed class IsaFactAttribute : FactAttribute
{
    public IsaFactAttribute(Isa required)
    {
        if (!IsSupported(required)) Skip = $"this CPU lacks {required}; the path it tests does not run here";
    }

    public static bool IsSupported(Isa isa) => isa switch
    {
        Isa.Vector256 => Vector256.IsHardwareAccelerated,
        Isa.Vector512 => Vector512.IsHardwareAccelerated,
        Isa.Avx2 => Avx2.IsSupported,
        Isa.AvxVnni => AvxVnni.IsSupported,
        Isa.Avx512VbmiGfni => Avx512Vbmi.IsSupported && Avx512BW.IsSupported && Gfni.V512.IsSupported,
        _ => throw new ArgumentOutOfRangeException(nameof(isa), isa, null),
    };
}

/// <summary>The theory form of <see cref="IsaFactAttribute"/>.</summary>
public sealed class IsaTheoryAttribute : TheoryAttribute
{
    public IsaTheoryAttribute(Isa required)
    {
        if (!IsaFactAttribute.IsSupported(required)) Skip = $"this CPU lacks {required}; the path it tests does not run here";
    }
}
