using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Caldera.Runtime.Incoherence;

/// <summary>
/// Y = M·X for a small square block M (K×K) and X, Y row-major K×P: the mixing step of
/// U = A ⊗ (H_P/√P), i.e. column b of Y is M times column b of X. K·K·P multiply-adds.
/// </summary>
/// <remarks>
/// The vector paths hold P-lanes of four output rows in registers and stream over the K rows of X, so each
/// X load feeds four rows. Every path accumulates y[a, b] = ((0 + m[a,0]·x[0,b]) + m[a,1]·x[1,b]) + … in the
/// same order with separate multiply and add, so all paths agree bit for bit.
/// </remarks>
internal static class BlockMixing
{
    private const int RowsPerStep = 4;

    public static void Multiply(ReadOnlySpan<float> m, int k, ReadOnlySpan<float> x, int p, Span<float> y)
    {
        if (Vector512.IsHardwareAccelerated && p % Vector512<float>.Count == 0) MultiplyVector512(m, k, x, p, y);
        else if (Vector256.IsHardwareAccelerated && p % Vector256<float>.Count == 0) MultiplyVector256(m, k, x, p, y);
        else if (Vector128.IsHardwareAccelerated && p % Vector128<float>.Count == 0) MultiplyVector128(m, k, x, p, y);
        else MultiplyScalar(m, k, x, p, y);
    }

    internal static void MultiplyScalar(ReadOnlySpan<float> m, int k, ReadOnlySpan<float> x, int p, Span<float> y)
    {
        for (int a = 0; a < k; a++)
            for (int b = 0; b < p; b++)
            {
                float sum = 0;
                for (int j = 0; j < k; j++) sum += m[a * k + j] * x[j * p + b];
                y[a * p + b] = sum;
            }
    }

    internal static void MultiplyVector512(ReadOnlySpan<float> m, int k, ReadOnlySpan<float> x, int p, Span<float> y)
    {
        ref float mRef = ref MemoryMarshal.GetReference(m);
        ref float xRef = ref MemoryMarshal.GetReference(x);
        ref float yRef = ref MemoryMarshal.GetReference(y);
        int a = 0;
        for (; a + RowsPerStep <= k; a += RowsPerStep)
            for (int b = 0; b < p; b += Vector512<float>.Count)
            {
                Vector512<float> y0 = Vector512<float>.Zero, y1 = y0, y2 = y0, y3 = y0;
                for (int j = 0; j < k; j++)
                {
                    Vector512<float> xj = Vector512.LoadUnsafe(ref xRef, (nuint)(j * p + b));
                    y0 += Vector512.Create(Unsafe.Add(ref mRef, a * k + j)) * xj;
                    y1 += Vector512.Create(Unsafe.Add(ref mRef, (a + 1) * k + j)) * xj;
                    y2 += Vector512.Create(Unsafe.Add(ref mRef, (a + 2) * k + j)) * xj;
                    y3 += Vector512.Create(Unsafe.Add(ref mRef, (a + 3) * k + j)) * xj;
                }
                y0.StoreUnsafe(ref yRef, (nuint)(a * p + b));
                y1.StoreUnsafe(ref yRef, (nuint)((a + 1) * p + b));
                y2.StoreUnsafe(ref yRef, (nuint)((a + 2) * p + b));
                y3.StoreUnsafe(ref yRef, (nuint)((a + 3) * p + b));
            }
        for (; a < k; a++)
            for (int b = 0; b < p; b += Vector512<float>.Count)
            {
                Vector512<float> sum = Vector512<float>.Zero;
                for (int j = 0; j < k; j++)
                    sum += Vector512.Create(Unsafe.Add(ref mRef, a * k + j)) * Vector512.LoadUnsafe(ref xRef, (nuint)(j * p + b));
                sum.StoreUnsafe(ref yRef, (nuint)(a * p + b));
            }
    }

    internal static void MultiplyVector256(ReadOnlySpan<float> m, int k, ReadOnlySpan<float> x, int p, Span<float> y)
    {
        ref float mRef = ref MemoryMarshal.GetReference(m);
        ref float xRef = ref MemoryMarshal.GetReference(x);
        ref float yRef = ref MemoryMarshal.GetReference(y);
        int a = 0;
        for (; a + RowsPerStep <= k; a += RowsPerStep)
            for (int b = 0; b < p; b += Vector256<float>.Count)
            {
                Vector256<float> y0 = Vector256<float>.Zero, y1 = y0, y2 = y0, y3 = y0;
                for (int j = 0; j < k; j++)
                {
                    Vector256<float> xj = Vector256.LoadUnsafe(ref xRef, (nuint)(j * p + b));
                    y0 += Vector256.Create(Unsafe.Add(ref mRef, a * k + j)) * xj;
                    y1 += Vector256.Create(Unsafe.Add(ref mRef, (a + 1) * k + j)) * xj;
                    y2 += Vector256.Create(Unsafe.Add(ref mRef, (a + 2) * k + j)) * xj;
                    y3 += Vector256.Create(Unsafe.Add(ref mRef, (a + 3) * k + j)) * xj;
                }
                y0.StoreUnsafe(ref yRef, (nuint)(a * p + b));
                y1.StoreUnsafe(ref yRef, (nuint)((a + 1) * p + b));
                y2.StoreUnsafe(ref yRef, (nuint)((a + 2) * p + b));
                y3.StoreUnsafe(ref yRef, (nuint)((a + 3) * p + b));
            }
        for (; a < k; a++)
            for (int b = 0; b < p; b += Vector256<float>.Count)
            {
                Vector256<float> sum = Vector256<float>.Zero;
                for (int j = 0; j < k; j++)
                    sum += Vector256.Create(Unsafe.Add(ref mRef, a * k + j)) * Vector256.LoadUnsafe(ref xRef, (nuint)(j * p + b));
                sum.StoreUnsafe(ref yRef, (nuint)(a * p + b));
            }
    }

    /// <summary>The portable path (NEON on Arm).</summary>
    internal static void MultiplyVector128(ReadOnlySpan<float> m, int k, ReadOnlySpan<float> x, int p, Span<float> y)
    {
        ref float mRef = ref MemoryMarshal.GetReference(m);
        ref float xRef = ref MemoryMarshal.GetReference(x);
        ref float yRef = ref MemoryMarshal.GetReference(y);
        int a = 0;
        for (; a + RowsPerStep <= k; a += RowsPerStep)
            for (int b = 0; b < p; b += Vector128<float>.Count)
            {
                Vector128<float> y0 = Vector128<float>.Zero, y1 = y0, y2 = y0, y3 = y0;
                for (int j = 0; j < k; j++)
                {
                    Vector128<float> xj = Vector128.LoadUnsafe(ref xRef, (nuint)(j * p + b));
                    y0 += Vector128.Create(Unsafe.Add(ref mRef, a * k + j)) * xj;
                    y1 += Vector128.Create(Unsafe.Add(ref mRef, (a + 1) * k + j)) * xj;
                    y2 += Vector128.Create(Unsafe.Add(ref mRef, (a + 2) * k + j)) * xj;
                    y3 += Vector128.Create(Unsafe.Add(ref mRef, (a + 3) * k + j)) * xj;
                }
                y0.StoreUnsafe(ref yRef, (nuint)(a * p + b));
                y1.StoreUnsafe(ref yRef, (nuint)((a + 1) * p + b));
                y2.StoreUnsafe(ref yRef, (nuint)((a + 2) * p + b));
                y3.StoreUnsafe(ref yRef, (nuint)((a + 3) * p + b));
            }
        for (; a < k; a++)
            for (int b = 0; b < p; b += Vector128<float>.Count)
            {
                Vector128<float> sum = Vector128<float>.Zero;
                for (int j = 0; j < k; j++)
                    sum += Vector128.Create(Unsafe.Add(ref mRef, a * k + j)) * Vector128.LoadUnsafe(ref xRef, (nuint)(j * p + b));
                sum.StoreUnsafe(ref yRef, (nuint)(a * p + b));
            }
    }
}
