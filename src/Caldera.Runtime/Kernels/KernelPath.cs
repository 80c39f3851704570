using System.Runtime.Intrinsics;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// Which implementation of a kernel runs. Public entries always take <see cref="KernelPaths.Best"/>; tests
/// pin the others to compare every vector path against the scalar reference on the same machine (a width
/// the CPU lacks still runs, emulated in software). Hot loops are marked AggressiveOptimization: tier-0
/// code for a Vector512 loop is many times slower, and a short generation would finish before tier-up.
/// </summary>
/// <remarks>
/// <see cref="KernelPath.Vector128"/> is the portable path: written with the cross-platform <see cref="Vector128{T}"/>
/// API only, it compiles to NEON (AdvSimd) on 64-bit Arm, whose vectors are 128 bits wide, and to SSE on x86-64, so
/// this x86 machine runs and tests the very code an Arm device runs. A path is ordered by width: a kernel that
/// checks <c>path &gt;= KernelPath.Vector256</c> takes the 256-bit loop on the AVX paths only.
/// </remarks>
internal enum KernelPath
{
    Scalar,
    Vector128,
    Vector256,
    Vector512,
}

internal static class KernelPaths
{
    /// <summary>The widest path the hardware accelerates (on Arm, <see cref="KernelPath.Vector128"/>).</summary>
    public static KernelPath Best { get; } =
        Vector512.IsHardwareAccelerated ? KernelPath.Vector512 :
        Vector256.IsHardwareAccelerated ? KernelPath.Vector256 :
        Vector128.IsHardwareAccelerated ? KernelPath.Vector128 : KernelPath.Scalar;
}
