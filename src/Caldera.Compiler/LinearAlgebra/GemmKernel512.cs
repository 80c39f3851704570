// Register tiles of the packed GEMM. The unrolled bodies are regular by construction (one accumulator pair
// per row of the tile); edit the pattern in all rows at once.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Caldera.Compiler.LinearAlgebra;

/// <summary>The 12×(2·Vector512&lt;T&gt;.Count) FMA register tile of <see cref="Gemm"/>.</summary>
internal static unsafe class GemmKernel512<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public const int MR = 12;

    public static int NR => 2 * Vector512<T>.Count;

    // C[0:12, 0:NR] += α · Σ_p pa[p·12 + i] · pb[p·NR + j],  NR = 2·Vector512<T>.Count (16 floats / 8 doubles per vector).
    // 24 accumulators + 2 B vectors + 1 broadcast of A stay in registers (32 zmm).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(int kc, T* pa, T* pb, T* c, nint ldc, T alpha)
    {
        int v = Vector512<T>.Count;
        Vector512<T> c00 = default, c01 = default;
        Vector512<T> c10 = default, c11 = default;
        Vector512<T> c20 = default, c21 = default;
        Vector512<T> c30 = default, c31 = default;
        Vector512<T> c40 = default, c41 = default;
        Vector512<T> c50 = default, c51 = default;
        Vector512<T> c60 = default, c61 = default;
        Vector512<T> c70 = default, c71 = default;
        Vector512<T> c80 = default, c81 = default;
        Vector512<T> c90 = default, c91 = default;
        Vector512<T> c100 = default, c101 = default;
        Vector512<T> c110 = default, c111 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<T> b0 = Vector512.Load(pb);
            Vector512<T> b1 = Vector512.Load(pb + v);
            Vector512<T> a0 = Vector512.Create(pa[0]);
            c00 = Fma(a0, b0, c00);
            c01 = Fma(a0, b1, c01);
            Vector512<T> a1 = Vector512.Create(pa[1]);
            c10 = Fma(a1, b0, c10);
            c11 = Fma(a1, b1, c11);
            Vector512<T> a2 = Vector512.Create(pa[2]);
            c20 = Fma(a2, b0, c20);
            c21 = Fma(a2, b1, c21);
            Vector512<T> a3 = Vector512.Create(pa[3]);
            c30 = Fma(a3, b0, c30);
            c31 = Fma(a3, b1, c31);
            Vector512<T> a4 = Vector512.Create(pa[4]);
            c40 = Fma(a4, b0, c40);
            c41 = Fma(a4, b1, c41);
            Vector512<T> a5 = Vector512.Create(pa[5]);
            c50 = Fma(a5, b0, c50);
            c51 = Fma(a5, b1, c51);
            Vector512<T> a6 = Vector512.Create(pa[6]);
            c60 = Fma(a6, b0, c60);
            c61 = Fma(a6, b1, c61);
            Vector512<T> a7 = Vector512.Create(pa[7]);
            c70 = Fma(a7, b0, c70);
            c71 = Fma(a7, b1, c71);
            Vector512<T> a8 = Vector512.Create(pa[8]);
            c80 = Fma(a8, b0, c80);
            c81 = Fma(a8, b1, c81);
            Vector512<T> a9 = Vector512.Create(pa[9]);
            c90 = Fma(a9, b0, c90);
            c91 = Fma(a9, b1, c91);
            Vector512<T> a10 = Vector512.Create(pa[10]);
            c100 = Fma(a10, b0, c100);
            c101 = Fma(a10, b1, c101);
            Vector512<T> a11 = Vector512.Create(pa[11]);
            c110 = Fma(a11, b0, c110);
            c111 = Fma(a11, b1, c111);
            pa += 12;
            pb += 2 * v;
        }

        Vector512<T> va = Vector512.Create(alpha);
        Update(c + (0 * ldc), c00, c01, va, v);
        Update(c + (1 * ldc), c10, c11, va, v);
        Update(c + (2 * ldc), c20, c21, va, v);
        Update(c + (3 * ldc), c30, c31, va, v);
        Update(c + (4 * ldc), c40, c41, va, v);
        Update(c + (5 * ldc), c50, c51, va, v);
        Update(c + (6 * ldc), c60, c61, va, v);
        Update(c + (7 * ldc), c70, c71, va, v);
        Update(c + (8 * ldc), c80, c81, va, v);
        Update(c + (9 * ldc), c90, c91, va, v);
        Update(c + (10 * ldc), c100, c101, va, v);
        Update(c + (11 * ldc), c110, c111, va, v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(T* row, Vector512<T> acc0, Vector512<T> acc1, Vector512<T> alpha, int v)
    {
        Vector512.Store(Fma(acc0, alpha, Vector512.Load(row)), row);
        Vector512.Store(Fma(acc1, alpha, Vector512.Load(row + v)), row + v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Fma(Vector512<T> a, Vector512<T> b, Vector512<T> addend)
    {
        if (typeof(T) == typeof(float))
        {
            return Vector512.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), addend.AsSingle()).As<float, T>();
        }

        return Vector512.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), addend.AsDouble()).As<double, T>();
    }
}
