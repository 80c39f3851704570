// Register tiles of the packed GEMM. The unrolled bodies are regular by construction (one accumulator pair
// per row of the tile); edit the pattern in all rows at once.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Caldera.Compiler.LinearAlgebra;

/// <summary>The 6×(2·Vector256&lt;T&gt;.Count) FMA register tile of <see cref="Gemm"/>.</summary>
internal static unsafe class GemmKernel256<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public const int MR = 6;

    public static int NR => 2 * Vector256<T>.Count;

    // C[0:6, 0:NR] += α · Σ_p pa[p·6 + i] · pb[p·NR + j],  NR = 2·Vector256<T>.Count (8 floats / 4 doubles per vector).
    // 12 accumulators + 2 B vectors + 1 broadcast of A stay in registers (16 ymm).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(int kc, T* pa, T* pb, T* c, nint ldc, T alpha)
    {
        int v = Vector256<T>.Count;
        Vector256<T> c00 = default, c01 = default;
        Vector256<T> c10 = default, c11 = default;
        Vector256<T> c20 = default, c21 = default;
        Vector256<T> c30 = default, c31 = default;
        Vector256<T> c40 = default, c41 = default;
        Vector256<T> c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector256<T> b0 = Vector256.Load(pb);
            Vector256<T> b1 = Vector256.Load(pb + v);
            Vector256<T> a0 = Vector256.Create(pa[0]);
            c00 = Fma(a0, b0, c00);
            c01 = Fma(a0, b1, c01);
            Vector256<T> a1 = Vector256.Create(pa[1]);
            c10 = Fma(a1, b0, c10);
            c11 = Fma(a1, b1, c11);
            Vector256<T> a2 = Vector256.Create(pa[2]);
            c20 = Fma(a2, b0, c20);
            c21 = Fma(a2, b1, c21);
            Vector256<T> a3 = Vector256.Create(pa[3]);
            c30 = Fma(a3, b0, c30);
            c31 = Fma(a3, b1, c31);
            Vector256<T> a4 = Vector256.Create(pa[4]);
            c40 = Fma(a4, b0, c40);
            c41 = Fma(a4, b1, c41);
            Vector256<T> a5 = Vector256.Create(pa[5]);
            c50 = Fma(a5, b0, c50);
            c51 = Fma(a5, b1, c51);
            pa += 6;
            pb += 2 * v;
        }

        Vector256<T> va = Vector256.Create(alpha);
        Update(c + (0 * ldc), c00, c01, va, v);
        Update(c + (1 * ldc), c10, c11, va, v);
        Update(c + (2 * ldc), c20, c21, va, v);
        Update(c + (3 * ldc), c30, c31, va, v);
        Update(c + (4 * ldc), c40, c41, va, v);
        Update(c + (5 * ldc), c50, c51, va, v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(T* row, Vector256<T> acc0, Vector256<T> acc1, Vector256<T> alpha, int v)
    {
        Vector256.Store(Fma(acc0, alpha, Vector256.Load(row)), row);
        Vector256.Store(Fma(acc1, alpha, Vector256.Load(row + v)), row + v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Fma(Vector256<T> a, Vector256<T> b, Vector256<T> addend)
    {
        if (typeof(T) == typeof(float))
        {
            return Vector256.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), addend.AsSingle()).As<float, T>();
        }

        return Vector256.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), addend.AsDouble()).As<double, T>();
    }
}
