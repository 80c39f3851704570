using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// The SwiGLU gate: gate_i ← silu(gate_i)·up_i with silu(g) = g / (1 + e^−g). In the MLP,
/// gate = W_gate·x and up = W_up·x (both hidden-wide); the result feeds W_down.
/// </summary>
internal static unsafe class SiluGate
{
    public static void Apply(Span<float> gate, ReadOnlySpan<float> up) => Apply(gate, up, KernelPaths.Best);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Apply(Span<float> gate, ReadOnlySpan<float> up, KernelPath path)
    {
        if (up.Length != gate.Length)
            throw new ArgumentException($"gate has {gate.Length} values but up has {up.Length}", nameof(up));
        fixed (float* g = gate)
        fixed (float* u = up)
        {
            int n = gate.Length, i = 0;
            if (path == KernelPath.Vector512)
                for (; i + Vector512<float>.Count <= n; i += Vector512<float>.Count)
                {
                    var v = Vector512.Load(g + i);
                    (v / (Vector512<float>.One + Vector512.Exp(-v)) * Vector512.Load(u + i)).Store(g + i);
                }
            if (path >= KernelPath.Vector256)
                for (; i + Vector256<float>.Count <= n; i += Vector256<float>.Count)
                {
                    var v = Vector256.Load(g + i);
                    (v / (Vector256<float>.One + Vector256.Exp(-v)) * Vector256.Load(u + i)).Store(g + i);
                }
            if (path >= KernelPath.Vector128)
                for (; i + Vector128<float>.Count <= n; i += Vector128<float>.Count)
                {
                    var v = Vector128.Load(g + i);
                    (v / (Vector128<float>.One + Vector128.Exp(-v)) * Vector128.Load(u + i)).Store(g + i);
                }
            for (; i < n; i++) g[i] = g[i] / (1f + MathF.Exp(-g[i])) * u[i];
        }
    }
}
