using System.Runtime.Intrinsics;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// Which implementation of a kernel runs. Public entries always take <see cref="KernelPaths.Best"/>; tests
/// pin the others to compare every vector path against the scalar reference on the same machine (a width
/// the CPU lacks still runs, emulated in software). Hot loops are marked AggressiveOptimization: tier-0
/// code for a Vector512 loop is many times slower, and a short generation would finish before tier-up.
/// </summary>
internal enum KernelPath
{
    Scalar,
    Vector256,
    Vector512,
}

internal static class KernelPaths
{
    /// <summary>The widest path the hardware accelerates.</summary>
    public static KernelPath Best { get; } =
        Vector512.IsHardwareAccelerated ? KernelPath.Vector512 :
        Vector256.IsHardwareAccelerated ? KernelPath.Vector256 : KernelPath.Scalar;
}
