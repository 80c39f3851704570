using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Caldera.Runtime.Incoherence;

/// <summary>
/// The fast Walsh–Hadamard transform: x ← H_P·x in place, H_P the unnormalised Sylvester matrix
/// (H_P[i, j] = (−1)^popcount(i &amp; j), P a power of two), in P·log₂P additions.
/// </summary>
/// <remarks>
/// Stage h (h = 1, 2, 4, …, P/2) replaces each pair (u, v) = (x[j], x[j+h]), j &amp; h = 0, by (u + v, u − v).
/// The vector paths do the stages with h below the vector width inside one register (lane i takes
/// x[i ^ h] + sᵢ·x[i], sᵢ = +1 where bit h of i is clear, else −1), then the wider stages as whole-vector butterflies; stages run in the same order on
/// the same pairs, so every path returns the scalar result bit for bit.
/// </remarks>
internal static class WalshHadamard
{
    /// <summary>x ← H_P·x (unnormalised); x.Length must be a power of two.</summary>
    public static void Transform(Span<float> x)
    {
        if (!BitOperations.IsPow2(x.Length))
            throw new ArgumentException($"the Walsh–Hadamard transform needs a power-of-two length, got {x.Length}.", nameof(x));
        if (Vector512.IsHardwareAccelerated && x.Length >= Vector512<float>.Count) TransformVector512(x);
        else if (Vector256.IsHardwareAccelerated && x.Length >= Vector256<float>.Count) TransformVector256(x);
        else if (Vector128.IsHardwareAccelerated && x.Length >= Vector128<float>.Count) TransformVector128(x);
        else TransformScalar(x);
    }

    internal static void TransformScalar(Span<float> x)
    {
        for (int h = 1; h < x.Length; h *= 2)
            for (int start = 0; start < x.Length; start += 2 * h)
                for (int j = start; j < start + h; j++)
                {
                    float u = x[j], v = x[j + h];
                    x[j] = u + v;
                    x[j + h] = u - v;
                }
    }

    internal static void TransformVector512(Span<float> x)
    {
        const int width = 16;
        ref float origin = ref MemoryMarshal.GetReference(x);
        for (int i = 0; i < x.Length; i += width)
        {
            Vector512<float> v = Vector512.LoadUnsafe(ref origin, (nuint)i);
            v = Vector512.Shuffle(v, Vector512.Create(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14))
                + v * Vector512.Create(1f, -1f, 1f, -1f, 1f, -1f, 1f, -1f, 1f, -1f, 1f, -1f, 1f, -1f, 1f, -1f);
            v = Vector512.Shuffle(v, Vector512.Create(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13))
                + v * Vector512.Create(1f, 1f, -1f, -1f, 1f, 1f, -1f, -1f, 1f, 1f, -1f, -1f, 1f, 1f, -1f, -1f);
            v = Vector512.Shuffle(v, Vector512.Create(4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11))
                + v * Vector512.Create(1f, 1f, 1f, 1f, -1f, -1f, -1f, -1f, 1f, 1f, 1f, 1f, -1f, -1f, -1f, -1f);
            v = Vector512.Shuffle(v, Vector512.Create(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7))
                + v * Vector512.Create(1f, 1f, 1f, 1f, 1f, 1f, 1f, 1f, -1f, -1f, -1f, -1f, -1f, -1f, -1f, -1f);
            v.StoreUnsafe(ref origin, (nuint)i);
        }
        for (int h = width; h < x.Length; h *= 2)
            for (int start = 0; start < x.Length; start += 2 * h)
                for (int j = start; j < start + h; j += width)
                {
                    Vector512<float> u = Vector512.LoadUnsafe(ref origin, (nuint)j);
                    Vector512<float> v = Vector512.LoadUnsafe(ref origin, (nuint)(j + h));
                    (u + v).StoreUnsafe(ref origin, (nuint)j);
                    (u - v).StoreUnsafe(ref origin, (nuint)(j + h));
                }
    }

    internal static void TransformVector256(Span<float> x)
    {
        const int width = 8;
        ref float origin = ref MemoryMarshal.GetReference(x);
        for (int i = 0; i < x.Length; i += width)
        {
            Vector256<float> v = Vector256.LoadUnsafe(ref origin, (nuint)i);
            v = Vector256.Shuffle(v, Vector256.Create(1, 0, 3, 2, 5, 4, 7, 6)) + v * Vector256.Create(1f, -1f, 1f, -1f, 1f, -1f, 1f, -1f);
            v = Vector256.Shuffle(v, Vector256.Create(2, 3, 0, 1, 6, 7, 4, 5)) + v * Vector256.Create(1f, 1f, -1f, -1f, 1f, 1f, -1f, -1f);
            v = Vector256.Shuffle(v, Vector256.Create(4, 5, 6, 7, 0, 1, 2, 3)) + v * Vector256.Create(1f, 1f, 1f, 1f, -1f, -1f, -1f, -1f);
            v.StoreUnsafe(ref origin, (nuint)i);
        }
        for (int h = width; h < x.Length; h *= 2)
            for (int start = 0; start < x.Length; start += 2 * h)
                for (int j = start; j < start + h; j += width)
                {
                    Vector256<float> u = Vector256.LoadUnsafe(ref origin, (nuint)j);
                    Vector256<float> v = Vector256.LoadUnsafe(ref origin, (nuint)(j + h));
                    (u + v).StoreUnsafe(ref origin, (nuint)j);
                    (u - v).StoreUnsafe(ref origin, (nuint)(j + h));
                }
    }

    /// <summary>The portable path (NEON on Arm): stages h = 1, 2 in the register, then whole-vector butterflies.</summary>
    internal static void TransformVector128(Span<float> x)
    {
        const int width = 4;
        ref float origin = ref MemoryMarshal.GetReference(x);
        for (int i = 0; i < x.Length; i += width)
        {
            Vector128<float> v = Vector128.LoadUnsafe(ref origin, (nuint)i);
            v = Vector128.Shuffle(v, Vector128.Create(1, 0, 3, 2)) + v * Vector128.Create(1f, -1f, 1f, -1f);
            v = Vector128.Shuffle(v, Vector128.Create(2, 3, 0, 1)) + v * Vector128.Create(1f, 1f, -1f, -1f);
            v.StoreUnsafe(ref origin, (nuint)i);
        }
        for (int h = width; h < x.Length; h *= 2)
            for (int start = 0; start < x.Length; start += 2 * h)
                for (int j = start; j < start + h; j += width)
                {
                    Vector128<float> u = Vector128.LoadUnsafe(ref origin, (nuint)j);
                    Vector128<float> v = Vector128.LoadUnsafe(ref origin, (nuint)(j + h));
                    (u + v).StoreUnsafe(ref origin, (nuint)j);
                    (u - v).StoreUnsafe(ref origin, (nuint)(j + h));
                }
    }
}
