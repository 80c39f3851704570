using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// The AVX-512 F16 matrix–vector product, y = W·x, reading weights two at a time without a widening load.
/// </summary>
/// <remarks>
/// 32 halves load as 16 dwords d. The odd element h₁ is d's high 16 bits, so (d >>ₐ 3) &amp; 0x8FFFE000 puts
/// its sign at bit 31 and its exponent and mantissa at bits 27..13: an f32 equal to h₁·2⁻¹¹² (the exponent
/// bias 15 sits 112 below f32's 127; see <see cref="F16Widener"/>). The even element h₀ is the same after
/// d &lt;&lt; 16. That is 5 ops per 32 weights where <see cref="F16Widener.Widen512"/> needs 8 (it also
/// multiplies by 2¹¹²), which is what keeps one core close to memory speed in decode.
/// The products then come out in even/odd order and scaled by 2⁻¹¹², so x is reordered to match (per 32
/// columns: its 16 even entries, then its 16 odd ones) and pre-scaled by 2⁶⁴, and each sum is scaled by 2⁴⁸.
/// Products w·x·2⁻⁴⁸ stay normal floats unless |w·x| &lt; 3e-24, far below what a sum of them can resolve.
/// Like <see cref="F16Widener"/>, it requires finite weights.
/// </remarks>
internal static unsafe class F16PairMatVec
{
    private const int Block = 32;
    private const int SignExponentMantissa = unchecked((int)0x8FFFE000);
    private const float TwoPow64 = 18446744073709551616f;
    private const float TwoPow48 = 281474976710656f;

    /// <summary>x is pre-scaled by 2⁶⁴ on the stack: past this width, or when |x| could overflow, use the widening path.</summary>
    internal const int MaxColumns = 16384;
    private const float MaxAbsX = 1e18f;

    /// <summary>False when this kernel cannot take the product (x too wide or too large); the caller then widens.</summary>
    public static bool TryMultiply(byte* w, float* x, float* y, int rows, int columns)
    {
        if (columns < Block || columns > MaxColumns) return false;
        var xs = new ReadOnlySpan<float>(x, columns);
        if (!(TensorPrimitives.MaxMagnitude(xs) < MaxAbsX)) return false; // also catches NaN

        int pairEnd = columns - columns % Block;
        float* reordered = stackalloc float[pairEnd];
        for (int b = 0; b < pairEnd; b += Block)
            for (int j = 0; j < Block / 2; j++)
            {
                reordered[b + j] = x[b + 2 * j] * TwoPow64;
                reordered[b + Block / 2 + j] = x[b + 2 * j + 1] * TwoPow64;
            }

        long rowBytes = (long)columns * sizeof(ushort);
        int r = 0;
        for (; r + 4 <= rows; r += 4)
        {
            byte* w0 = w + r * rowBytes;
            Dot4Rows(w0, rowBytes, reordered, pairEnd, y + r);
            for (int i = 0; i < 4; i++) y[r + i] += MatVec.Tail<F16Widener>(w0 + i * rowBytes, x, pairEnd, columns);
        }
        for (; r < rows; r++)
        {
            byte* w0 = w + r * rowBytes;
            y[r] = DotRow(w0, reordered, pairEnd) + MatVec.Tail<F16Widener>(w0, x, pairEnd, columns);
        }
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot4Rows(byte* w0, long rowBytes, float* x, int pairEnd, float* sums)
    {
        byte* w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
        var mask = Vector512.Create(SignExponentMantissa);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int c = 0; c < pairEnd; c += Block)
        {
            var even = Vector512.Load(x + c);
            var odd = Vector512.Load(x + c + Block / 2);
            long o = (long)c * sizeof(ushort);
            a0 = Accumulate(Vector512.Load((int*)(w0 + o)), even, odd, mask, a0);
            a1 = Accumulate(Vector512.Load((int*)(w1 + o)), even, odd, mask, a1);
            a2 = Accumulate(Vector512.Load((int*)(w2 + o)), even, odd, mask, a2);
            a3 = Accumulate(Vector512.Load((int*)(w3 + o)), even, odd, mask, a3);
        }
        sums[0] = Vector512.Sum(a0) * TwoPow48;
        sums[1] = Vector512.Sum(a1) * TwoPow48;
        sums[2] = Vector512.Sum(a2) * TwoPow48;
        sums[3] = Vector512.Sum(a3) * TwoPow48;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotRow(byte* w0, float* x, int pairEnd)
    {
        var mask = Vector512.Create(SignExponentMantissa);
        Vector512<float> a0 = default;
        for (int c = 0; c < pairEnd; c += Block)
            a0 = Accumulate(Vector512.Load((int*)(w0 + (long)c * sizeof(ushort))), Vector512.Load(x + c), Vector512.Load(x + c + Block / 2), mask, a0);
        return Vector512.Sum(a0) * TwoPow48;
    }

    /// <summary>acc + h₀·2⁻¹¹²·even + h₁·2⁻¹¹²·odd for the 16 pairs (h₀, h₁) packed in <paramref name="pairs"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Accumulate(Vector512<int> pairs, Vector512<float> even, Vector512<float> odd, Vector512<int> mask, Vector512<float> acc)
    {
        var high = (pairs >> 3) & mask;
        var low = ((pairs << 16) >> 3) & mask;
        return Vector512.FusedMultiplyAdd(high.AsSingle(), odd, Vector512.FusedMultiplyAdd(low.AsSingle(), even, acc));
    }
}
