using System.Numerics;
using System.Runtime.Intrinsics;

namespace Caldera.Compiler.LinearAlgebra;

/// <summary>Which register tile <see cref="Gemm"/> runs; <see cref="Best"/> unless a test pins one.</summary>
internal enum GemmKernelKind
{
    Scalar,
    Vector256,
    Vector512,
}

internal static class GemmKernelKinds
{
    public static GemmKernelKind Best =>
        Vector512.IsHardwareAccelerated ? GemmKernelKind.Vector512
        : Vector256.IsHardwareAccelerated ? GemmKernelKind.Vector256
        : GemmKernelKind.Scalar;

    public static bool IsSupported(GemmKernelKind kind) => kind switch
    {
        GemmKernelKind.Vector512 => Vector512.IsHardwareAccelerated,
        GemmKernelKind.Vector256 => Vector256.IsHardwareAccelerated,
        _ => true,
    };

    public static int RowsPerTile<T>(GemmKernelKind kind) where T : unmanaged, IFloatingPointIeee754<T> => kind switch
    {
        GemmKernelKind.Vector512 => GemmKernel512<T>.MR,
        GemmKernelKind.Vector256 => GemmKernel256<T>.MR,
        _ => GemmKernelScalar<T>.MR,
    };

    public static int ColsPerTile<T>(GemmKernelKind kind) where T : unmanaged, IFloatingPointIeee754<T> => kind switch
    {
        GemmKernelKind.Vector512 => GemmKernel512<T>.NR,
        GemmKernelKind.Vector256 => GemmKernel256<T>.NR,
        _ => GemmKernelScalar<T>.NR,
    };
}
