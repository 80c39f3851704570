using System.Runtime.Intrinsics;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// Which implementation of a kernel runs. Public entries always take <see cref="Best"/>; tests pin the
/// others to compare every vector path against the scalar reference on the same machine.
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

    public static bool IsSupported(this KernelPath path) => path switch
    {
        KernelPath.Vector512 => Vector512.IsHardwareAccelerated,
        KernelPath.Vector256 => Vector256.IsHardwareAccelerated,
        _ => true,
    };
}
