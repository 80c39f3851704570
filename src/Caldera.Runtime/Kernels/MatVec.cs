using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// Matrix–vector product over weights in their stored type, the kernel behind every decode step:
/// y[r] = Σ_c W[r, c]·x[c]   W: rows × columns, row-major (F32, F16 or BF16); x: columns; y: rows.
/// </summary>
/// <remarks>
/// Decode is bound by streaming W from memory once per token, so the vector paths widen each weight
/// vector in registers and feed it straight into FMAs (no F32 copy of the row), and walk four rows at
/// once so every load of x serves four dot products. F16 on AVX-512 takes the cheaper
/// <see cref="F16PairMatVec"/> whenever x allows it.
/// </remarks>
internal static unsafe class MatVec
{
    private const int RowBlock = 4;

    /// <summary>y = W·x, with <c>rows = y.Length</c> and <c>columns = x.Length</c>.</summary>
    public static void Multiply(ReadOnlySpan<byte> weights, TensorType type, ReadOnlySpan<float> x, Span<float> y) =>
        Multiply(weights, type, x, y, KernelPaths.Best);

    internal static void Multiply(ReadOnlySpan<byte> weights, TensorType type, ReadOnlySpan<float> x, Span<float> y, KernelPath path)
    {
        long expected = (long)x.Length * y.Length * type.ElementSize();
        if (weights.Length != expected)
            throw new ArgumentException($"weights hold {weights.Length} bytes; a {y.Length}×{x.Length} {type} matrix needs {expected}", nameof(weights));
        fixed (byte* w = weights)
        fixed (float* px = x, py = y)
        {
            switch (type)
            {
                case TensorType.F32: Multiply<F32Widener>(w, px, py, y.Length, x.Length, path); break;
                case TensorType.F16: Multiply<F16Widener>(w, px, py, y.Length, x.Length, path); break;
                case TensorType.BF16: Multiply<BF16Widener>(w, px, py, y.Length, x.Length, path); break;
                default: throw new ArgumentOutOfRangeException(nameof(type), type, null);
            }
        }
    }

    internal static void Multiply<T>(byte* w, float* x, float* y, int rows, int columns, KernelPath path) where T : IElementWidener
    {
        if (path == KernelPath.Vector512 && typeof(T) == typeof(F16Widener) && F16PairMatVec.TryMultiply(w, x, y, rows, columns)) return;
        if (path == KernelPath.Vector512 && columns >= Vector512<float>.Count) Multiply512<T>(w, x, y, rows, columns);
        else if (path >= KernelPath.Vector256 && columns >= Vector256<float>.Count) Multiply256<T>(w, x, y, rows, columns);
        else if (path >= KernelPath.Vector128 && columns >= Vector128<float>.Count) Multiply128<T>(w, x, y, rows, columns);
        else MultiplyScalar<T>(w, x, y, rows, columns);
    }

    /// <summary>The reference: one row at a time, sequential float accumulation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MultiplyScalar<T>(byte* w, float* x, float* y, int rows, int columns) where T : IElementWidener
    {
        int size = T.ElementSize;
        for (int r = 0; r < rows; r++)
        {
            byte* row = w + (long)r * columns * size;
            float sum = 0;
            for (int c = 0; c < columns; c++) sum += T.Widen(row + c * size) * x[c];
            y[r] = sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Multiply512<T>(byte* w, float* x, float* y, int rows, int columns) where T : IElementWidener
    {
        long rowBytes = (long)columns * T.ElementSize;
        int vectorEnd = columns - columns % Vector512<float>.Count;
        int r = 0;
        for (; r + RowBlock <= rows; r += RowBlock)
        {
            byte* w0 = w + r * rowBytes;
            Dot4Rows512<T>(w0, rowBytes, x, vectorEnd, y + r);
            for (int i = 0; i < RowBlock; i++) y[r + i] += Tail<T>(w0 + i * rowBytes, x, vectorEnd, columns);
        }
        for (; r < rows; r++)
        {
            byte* w0 = w + r * rowBytes;
            Vector512<float> a0 = default;
            for (int c = 0; c < vectorEnd; c += Vector512<float>.Count)
                a0 = Vector512.FusedMultiplyAdd(T.Widen512(w0 + (long)c * T.ElementSize), Vector512.Load(x + c), a0);
            y[r] = Vector512.Sum(a0) + Tail<T>(w0, x, vectorEnd, columns);
        }
    }

    /// <summary>
    /// sums[i] = Σ_{c &lt; vectorEnd} W[i, c]·x[c] for four rows <paramref name="rowBytes"/> apart. Kept apart
    /// from the scalar tails: a call anywhere in the loop's method makes the JIT spill the accumulators.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot4Rows512<T>(byte* w0, long rowBytes, float* x, int vectorEnd, float* sums) where T : IElementWidener
    {
        byte* w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int c = 0; c < vectorEnd; c += Vector512<float>.Count)
        {
            var xv = Vector512.Load(x + c);
            long o = (long)c * T.ElementSize;
            a0 = Vector512.FusedMultiplyAdd(T.Widen512(w0 + o), xv, a0);
            a1 = Vector512.FusedMultiplyAdd(T.Widen512(w1 + o), xv, a1);
            a2 = Vector512.FusedMultiplyAdd(T.Widen512(w2 + o), xv, a2);
            a3 = Vector512.FusedMultiplyAdd(T.Widen512(w3 + o), xv, a3);
        }
        sums[0] = Vector512.Sum(a0);
        sums[1] = Vector512.Sum(a1);
        sums[2] = Vector512.Sum(a2);
        sums[3] = Vector512.Sum(a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Multiply256<T>(byte* w, float* x, float* y, int rows, int columns) where T : IElementWidener
    {
        long rowBytes = (long)columns * T.ElementSize;
        int vectorEnd = columns - columns % Vector256<float>.Count;
        int r = 0;
        for (; r + RowBlock <= rows; r += RowBlock)
        {
            byte* w0 = w + r * rowBytes;
            Dot4Rows256<T>(w0, rowBytes, x, vectorEnd, y + r);
            for (int i = 0; i < RowBlock; i++) y[r + i] += Tail<T>(w0 + i * rowBytes, x, vectorEnd, columns);
        }
        for (; r < rows; r++)
        {
            byte* w0 = w + r * rowBytes;
            Vector256<float> a0 = default;
            for (int c = 0; c < vectorEnd; c += Vector256<float>.Count)
                a0 = Vector256.FusedMultiplyAdd(T.Widen256(w0 + (long)c * T.ElementSize), Vector256.Load(x + c), a0);
            y[r] = Vector256.Sum(a0) + Tail<T>(w0, x, vectorEnd, columns);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot4Rows256<T>(byte* w0, long rowBytes, float* x, int vectorEnd, float* sums) where T : IElementWidener
    {
        byte* w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int c = 0; c < vectorEnd; c += Vector256<float>.Count)
        {
            var xv = Vector256.Load(x + c);
            long o = (long)c * T.ElementSize;
            a0 = Vector256.FusedMultiplyAdd(T.Widen256(w0 + o), xv, a0);
            a1 = Vector256.FusedMultiplyAdd(T.Widen256(w1 + o), xv, a1);
            a2 = Vector256.FusedMultiplyAdd(T.Widen256(w2 + o), xv, a2);
            a3 = Vector256.FusedMultiplyAdd(T.Widen256(w3 + o), xv, a3);
        }
        sums[0] = Vector256.Sum(a0);
        sums[1] = Vector256.Sum(a1);
        sums[2] = Vector256.Sum(a2);
        sums[3] = Vector256.Sum(a3);
    }

    /// <summary>The portable path (NEON on Arm, SSE on x86): four rows at once, as <see cref="Multiply256{T}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Multiply128<T>(byte* w, float* x, float* y, int rows, int columns) where T : IElementWidener
    {
        long rowBytes = (long)columns * T.ElementSize;
        int vectorEnd = columns - columns % Vector128<float>.Count;
        int r = 0;
        for (; r + RowBlock <= rows; r += RowBlock)
        {
            byte* w0 = w + r * rowBytes;
            Dot4Rows128<T>(w0, rowBytes, x, vectorEnd, y + r);
            for (int i = 0; i < RowBlock; i++) y[r + i] += Tail<T>(w0 + i * rowBytes, x, vectorEnd, columns);
        }
        for (; r < rows; r++)
        {
            byte* w0 = w + r * rowBytes;
            Vector128<float> a0 = default;
            for (int c = 0; c < vectorEnd; c += Vector128<float>.Count)
                a0 = Vector128.FusedMultiplyAdd(T.Widen128(w0 + (long)c * T.ElementSize), Vector128.Load(x + c), a0);
            y[r] = Vector128.Sum(a0) + Tail<T>(w0, x, vectorEnd, columns);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot4Rows128<T>(byte* w0, long rowBytes, float* x, int vectorEnd, float* sums) where T : IElementWidener
    {
        byte* w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
        Vector128<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int c = 0; c < vectorEnd; c += Vector128<float>.Count)
        {
            var xv = Vector128.Load(x + c);
            long o = (long)c * T.ElementSize;
            a0 = Vector128.FusedMultiplyAdd(T.Widen128(w0 + o), xv, a0);
            a1 = Vector128.FusedMultiplyAdd(T.Widen128(w1 + o), xv, a1);
            a2 = Vector128.FusedMultiplyAdd(T.Widen128(w2 + o), xv, a2);
            a3 = Vector128.FusedMultiplyAdd(T.Widen128(w3 + o), xv, a3);
        }
        sums[0] = Vector128.Sum(a0);
        sums[1] = Vector128.Sum(a1);
        sums[2] = Vector128.Sum(a2);
        sums[3] = Vector128.Sum(a3);
    }

    /// <summary>Σ row[c]·x[c] over the columns past the last whole vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Tail<T>(byte* row, float* x, int start, int columns) where T : IElementWidener
    {
        float sum = 0;
        for (int c = start; c < columns; c++) sum += T.Widen(row + (long)c * T.ElementSize) * x[c];
        return sum;
    }
}
