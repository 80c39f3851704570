using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// Matrix–matrix product for prefill: every prompt token goes through a weight matrix at once, so each
/// weight row is read (and widened to F32) once and applied to all tokens.
/// Y[t, r] = Σ_c W[r, c]·X[t, c]   W: rows × columns (F32, F16 or BF16); X: n × columns; Y: n × yStride.
/// </summary>
/// <remarks>
/// Rows are taken six at a time (four on AVX2) and widened into a small F32 scratch block; a 6-row × 4-token
/// register tile (24 zmm accumulators) then reuses every loaded weight vector for four tokens and every token
/// vector for six rows: the token vectors, which stream from L2 for every block of rows, are loaded once per 24
/// FMAs instead of once per 16 with a 4 × 4 tile. Rows left over take the 4 × 4 (AVX2: 4 × 2) tile, tokens left
/// over go through <see cref="MatVec"/>. The portable 128-bit path (Arm) takes a 4 × 4 tile of 128-bit vectors. Every path sums each (row, token) in one accumulator over the columns,
/// then the lanes, then the tail, as MatVec does, so the tiling never changes a result.
/// </remarks>
internal static unsafe class MatMul
{
    /// <summary>Rows decoded or widened per block: the tall tile's height.</summary>
    public const int RowBlock = 6;

    /// <summary>Scratch floats <see cref="Multiply(ReadOnlySpan{byte}, TensorType, int, ReadOnlySpan{float}, int, Span{float}, int, Span{float})"/> needs.</summary>
    public static int ScratchLength(int columns) => RowBlock * columns;

    /// <summary>
    /// Fills the first <paramref name="rows"/> entries of each of the <paramref name="n"/> rows of
    /// <paramref name="y"/> (row stride <paramref name="yStride"/>) with W·x_t.
    /// </summary>
    public static void Multiply(ReadOnlySpan<byte> weights, TensorType type, int rows, ReadOnlySpan<float> x, int n,
        Span<float> y, int yStride, Span<float> scratch) =>
        Multiply(weights, type, rows, x, n, y, yStride, scratch, KernelPaths.Best);

    internal static void Multiply(ReadOnlySpan<byte> weights, TensorType type, int rows, ReadOnlySpan<float> x, int n,
        Span<float> y, int yStride, Span<float> scratch, KernelPath path)
    {
        if (n <= 0 || rows < 0 || x.Length % n != 0)
            throw new ArgumentException($"x holds {x.Length} floats, not a whole number of {n} rows", nameof(x));
        int columns = x.Length / n;
        if (weights.Length != (long)rows * columns * type.ElementSize())
            throw new ArgumentException($"weights hold {weights.Length} bytes, not a {rows}×{columns} {type} matrix", nameof(weights));
        if (rows > yStride || y.Length < (long)(n - 1) * yStride + rows)
            throw new ArgumentException($"y holds {y.Length} floats, too few for {n} rows of stride {yStride}", nameof(y));
        if (scratch.Length < ScratchLength(columns))
            throw new ArgumentException($"scratch needs {ScratchLength(columns)} floats", nameof(scratch));
        fixed (byte* w = weights)
        fixed (float* px = x, py = y, ps = scratch)
        {
            switch (type)
            {
                case TensorType.F32: Multiply<F32Widener>(w, rows, columns, px, n, py, yStride, ps, path); break;
                case TensorType.F16: Multiply<F16Widener>(w, rows, columns, px, n, py, yStride, ps, path); break;
                case TensorType.BF16: Multiply<BF16Widener>(w, rows, columns, px, n, py, yStride, ps, path); break;
                default: throw new ArgumentOutOfRangeException(nameof(type), type, null);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Multiply<T>(byte* w, int rows, int columns, float* x, int n, float* y, int yStride, float* scratch, KernelPath path)
        where T : IElementWidener
    {
        if (path == KernelPath.Scalar)
        {
            MultiplyScalar<T>(w, rows, columns, x, n, y, yStride);
            return;
        }
        long rowBytes = (long)columns * T.ElementSize;
        bool wide = path == KernelPath.Vector512 && columns >= Vector512<float>.Count;
        int tile = wide ? 4 : path == KernelPath.Vector256 && columns >= Vector256<float>.Count ? 2
            : path == KernelPath.Vector128 && columns >= Vector128<float>.Count ? 4 : 0;
        int rowBlock = wide ? RowBlock : 4;
        for (int r = 0; r < rows; r += rowBlock)
        {
            int m = Math.Min(rowBlock, rows - r);
            float* block = typeof(T) == typeof(F32Widener) ? (float*)(w + r * rowBytes) : scratch;
            if (typeof(T) != typeof(F32Widener)) Widen<T>(w + r * rowBytes, m * columns, scratch, path);

            int i = 0;
            if (wide && m == RowBlock)
            {
                int t = 0;
                for (; t + 4 <= n; t += 4) Tile6(block, columns, x + (long)t * columns, y + (long)t * yStride + r, yStride);
                for (; t < n; t++)
                    MatVec.Multiply<F32Widener>((byte*)block, x + (long)t * columns, y + (long)t * yStride + r, m, columns, path);
                continue;
            }
            if (m >= 4 && tile > 0)
            {
                int t = 0;
                for (; t + tile <= n; t += tile) Tile(block, columns, x + (long)t * columns, tile, y + (long)t * yStride + r, yStride, path);
                for (; t < n; t++)
                    MatVec.Multiply<F32Widener>((byte*)block, x + (long)t * columns, y + (long)t * yStride + r, 4, columns, path);
                i = 4;
            }
            if (i < m)
                for (int t = 0; t < n; t++)
                    MatVec.Multiply<F32Widener>((byte*)(block + i * columns), x + (long)t * columns, y + (long)t * yStride + r + i, m - i, columns, path);
        }
    }

    /// <summary>The reference: a plain triple loop with sequential float accumulation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MultiplyScalar<T>(byte* w, int rows, int columns, float* x, int n, float* y, int yStride) where T : IElementWidener
    {
        for (int t = 0; t < n; t++)
            for (int r = 0; r < rows; r++)
            {
                byte* row = w + (long)r * columns * T.ElementSize;
                float sum = 0;
                for (int c = 0; c < columns; c++) sum += T.Widen(row + (long)c * T.ElementSize) * x[(long)t * columns + c];
                y[(long)t * yStride + r] = sum;
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Widen<T>(byte* source, int count, float* destination, KernelPath path) where T : IElementWidener
    {
        int i = 0;
        if (path == KernelPath.Vector512)
            for (; i + Vector512<float>.Count <= count; i += Vector512<float>.Count)
                T.Widen512(source + (long)i * T.ElementSize).Store(destination + i);
        if (path >= KernelPath.Vector256)
            for (; i + Vector256<float>.Count <= count; i += Vector256<float>.Count)
                T.Widen256(source + (long)i * T.ElementSize).Store(destination + i);
        for (; i + Vector128<float>.Count <= count; i += Vector128<float>.Count)
            T.Widen128(source + (long)i * T.ElementSize).Store(destination + i);
        for (; i < count; i++) destination[i] = T.Widen(source + (long)i * T.ElementSize);
    }

    /// <summary>y[t·yStride + i] = w_i · x_t for 6 F32 rows w_i and 4 tokens x_t, both strided by columns.</summary>
    private static void Tile6(float* w, int columns, float* x, float* y, int yStride)
    {
        float* sums = stackalloc float[RowBlock * 4];
        int vectorEnd = columns - columns % Vector512<float>.Count;
        Tile6x4(w, columns, x, vectorEnd, sums);
        for (int t = 0; t < 4; t++)
            for (int i = 0; i < RowBlock; i++)
                y[t * yStride + i] = sums[t * RowBlock + i] + MatVec.Tail<F32Widener>((byte*)(w + i * columns), x + t * columns, vectorEnd, columns);
    }

    /// <summary>y[t·yStride + i] = w_i · x_t for 4 F32 rows w_i and <paramref name="tokens"/> (4 or 2) tokens x_t, both strided by columns.</summary>
    private static void Tile(float* w, int columns, float* x, int tokens, float* y, int yStride, KernelPath path)
    {
        const int Rows = 4;
        float* sums = stackalloc float[Rows * 4];
        int vectorEnd;
        if (path == KernelPath.Vector128)
        {
            vectorEnd = columns - columns % Vector128<float>.Count;
            Tile4x4Narrow(w, columns, x, vectorEnd, sums);
        }
        else if (tokens == 4)
        {
            vectorEnd = columns - columns % Vector512<float>.Count;
            Tile4x4(w, columns, x, vectorEnd, sums);
        }
        else
        {
            vectorEnd = columns - columns % Vector256<float>.Count;
            Tile4x2(w, columns, x, vectorEnd, sums);
        }
        for (int t = 0; t < tokens; t++)
            for (int i = 0; i < Rows; i++)
                y[t * yStride + i] = sums[t * Rows + i] + MatVec.Tail<F32Widener>((byte*)(w + i * columns), x + t * columns, vectorEnd, columns);
    }

    /// <summary>
    /// sums[t·6 + i] = Σ_{c &lt; vectorEnd} w_i[c]·x_t[c] for 6 rows × 4 tokens: 24 zmm accumulators, 6 row vectors and
    /// 1 token vector: 31 of AVX-512's 32 registers. No calls here, or the JIT spills.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile6x4(float* w, int columns, float* x, int vectorEnd, float* sums)
    {
        float* w1 = w + columns, w2 = w1 + columns, w3 = w2 + columns, w4 = w3 + columns, w5 = w4 + columns;
        float* x1 = x + columns, x2 = x1 + columns, x3 = x2 + columns;
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default;
        Vector512<float> a40 = default, a41 = default, a42 = default, a43 = default;
        Vector512<float> a50 = default, a51 = default, a52 = default, a53 = default;
        for (int c = 0; c < vectorEnd; c += Vector512<float>.Count)
        {
            var r0 = Vector512.Load(w + c);
            var r1 = Vector512.Load(w1 + c);
            var r2 = Vector512.Load(w2 + c);
            var r3 = Vector512.Load(w3 + c);
            var r4 = Vector512.Load(w4 + c);
            var r5 = Vector512.Load(w5 + c);
            var v = Vector512.Load(x + c);
            a00 = Vector512.FusedMultiplyAdd(r0, v, a00); a10 = Vector512.FusedMultiplyAdd(r1, v, a10); a20 = Vector512.FusedMultiplyAdd(r2, v, a20);
            a30 = Vector512.FusedMultiplyAdd(r3, v, a30); a40 = Vector512.FusedMultiplyAdd(r4, v, a40); a50 = Vector512.FusedMultiplyAdd(r5, v, a50);
            v = Vector512.Load(x1 + c);
            a01 = Vector512.FusedMultiplyAdd(r0, v, a01); a11 = Vector512.FusedMultiplyAdd(r1, v, a11); a21 = Vector512.FusedMultiplyAdd(r2, v, a21);
            a31 = Vector512.FusedMultiplyAdd(r3, v, a31); a41 = Vector512.FusedMultiplyAdd(r4, v, a41); a51 = Vector512.FusedMultiplyAdd(r5, v, a51);
            v = Vector512.Load(x2 + c);
            a02 = Vector512.FusedMultiplyAdd(r0, v, a02); a12 = Vector512.FusedMultiplyAdd(r1, v, a12); a22 = Vector512.FusedMultiplyAdd(r2, v, a22);
            a32 = Vector512.FusedMultiplyAdd(r3, v, a32); a42 = Vector512.FusedMultiplyAdd(r4, v, a42); a52 = Vector512.FusedMultiplyAdd(r5, v, a52);
            v = Vector512.Load(x3 + c);
            a03 = Vector512.FusedMultiplyAdd(r0, v, a03); a13 = Vector512.FusedMultiplyAdd(r1, v, a13); a23 = Vector512.FusedMultiplyAdd(r2, v, a23);
            a33 = Vector512.FusedMultiplyAdd(r3, v, a33); a43 = Vector512.FusedMultiplyAdd(r4, v, a43); a53 = Vector512.FusedMultiplyAdd(r5, v, a53);
        }
        sums[0] = Vector512.Sum(a00); sums[1] = Vector512.Sum(a10); sums[2] = Vector512.Sum(a20);
        sums[3] = Vector512.Sum(a30); sums[4] = Vector512.Sum(a40); sums[5] = Vector512.Sum(a50);
        sums[6] = Vector512.Sum(a01); sums[7] = Vector512.Sum(a11); sums[8] = Vector512.Sum(a21);
        sums[9] = Vector512.Sum(a31); sums[10] = Vector512.Sum(a41); sums[11] = Vector512.Sum(a51);
        sums[12] = Vector512.Sum(a02); sums[13] = Vector512.Sum(a12); sums[14] = Vector512.Sum(a22);
        sums[15] = Vector512.Sum(a32); sums[16] = Vector512.Sum(a42); sums[17] = Vector512.Sum(a52);
        sums[18] = Vector512.Sum(a03); sums[19] = Vector512.Sum(a13); sums[20] = Vector512.Sum(a23);
        sums[21] = Vector512.Sum(a33); sums[22] = Vector512.Sum(a43); sums[23] = Vector512.Sum(a53);
    }

    /// <summary>
    /// sums[t·4 + i] = Σ_{c &lt; vectorEnd} w_i[c]·x_t[c] for 4 rows × 4 tokens: 16 zmm accumulators plus
    /// 4 row vectors and 1 token vector fit AVX-512's 32 registers. No calls here, or the JIT spills.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x4(float* w, int columns, float* x, int vectorEnd, float* sums)
    {
        float* w1 = w + columns, w2 = w1 + columns, w3 = w2 + columns;
        float* x1 = x + columns, x2 = x1 + columns, x3 = x2 + columns;
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default;
        for (int c = 0; c < vectorEnd; c += Vector512<float>.Count)
        {
            var r0 = Vector512.Load(w + c);
            var r1 = Vector512.Load(w1 + c);
            var r2 = Vector512.Load(w2 + c);
            var r3 = Vector512.Load(w3 + c);
            var v = Vector512.Load(x + c);
            a00 = Vector512.FusedMultiplyAdd(r0, v, a00); a10 = Vector512.FusedMultiplyAdd(r1, v, a10);
            a20 = Vector512.FusedMultiplyAdd(r2, v, a20); a30 = Vector512.FusedMultiplyAdd(r3, v, a30);
            v = Vector512.Load(x1 + c);
            a01 = Vector512.FusedMultiplyAdd(r0, v, a01); a11 = Vector512.FusedMultiplyAdd(r1, v, a11);
            a21 = Vector512.FusedMultiplyAdd(r2, v, a21); a31 = Vector512.FusedMultiplyAdd(r3, v, a31);
            v = Vector512.Load(x2 + c);
            a02 = Vector512.FusedMultiplyAdd(r0, v, a02); a12 = Vector512.FusedMultiplyAdd(r1, v, a12);
            a22 = Vector512.FusedMultiplyAdd(r2, v, a22); a32 = Vector512.FusedMultiplyAdd(r3, v, a32);
            v = Vector512.Load(x3 + c);
            a03 = Vector512.FusedMultiplyAdd(r0, v, a03); a13 = Vector512.FusedMultiplyAdd(r1, v, a13);
            a23 = Vector512.FusedMultiplyAdd(r2, v, a23); a33 = Vector512.FusedMultiplyAdd(r3, v, a33);
        }
        sums[0] = Vector512.Sum(a00); sums[1] = Vector512.Sum(a10); sums[2] = Vector512.Sum(a20); sums[3] = Vector512.Sum(a30);
        sums[4] = Vector512.Sum(a01); sums[5] = Vector512.Sum(a11); sums[6] = Vector512.Sum(a21); sums[7] = Vector512.Sum(a31);
        sums[8] = Vector512.Sum(a02); sums[9] = Vector512.Sum(a12); sums[10] = Vector512.Sum(a22); sums[11] = Vector512.Sum(a32);
        sums[12] = Vector512.Sum(a03); sums[13] = Vector512.Sum(a13); sums[14] = Vector512.Sum(a23); sums[15] = Vector512.Sum(a33);
    }

    /// <summary>
    /// The portable tile (NEON on Arm): 4 rows × 4 tokens of 128-bit vectors, 16 accumulators, 4 row vectors and 1 token
    /// vector: 21 of NEON's 32 registers (on x86's 16 xmm registers it spills, but x86 takes the wider tiles).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x4Narrow(float* w, int columns, float* x, int vectorEnd, float* sums)
    {
        float* w1 = w + columns, w2 = w1 + columns, w3 = w2 + columns;
        float* x1 = x + columns, x2 = x1 + columns, x3 = x2 + columns;
        Vector128<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector128<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector128<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector128<float> a30 = default, a31 = default, a32 = default, a33 = default;
        for (int c = 0; c < vectorEnd; c += Vector128<float>.Count)
        {
            var r0 = Vector128.Load(w + c);
            var r1 = Vector128.Load(w1 + c);
            var r2 = Vector128.Load(w2 + c);
            var r3 = Vector128.Load(w3 + c);
            var v = Vector128.Load(x + c);
            a00 = Vector128.FusedMultiplyAdd(r0, v, a00); a10 = Vector128.FusedMultiplyAdd(r1, v, a10);
            a20 = Vector128.FusedMultiplyAdd(r2, v, a20); a30 = Vector128.FusedMultiplyAdd(r3, v, a30);
            v = Vector128.Load(x1 + c);
            a01 = Vector128.FusedMultiplyAdd(r0, v, a01); a11 = Vector128.FusedMultiplyAdd(r1, v, a11);
            a21 = Vector128.FusedMultiplyAdd(r2, v, a21); a31 = Vector128.FusedMultiplyAdd(r3, v, a31);
            v = Vector128.Load(x2 + c);
            a02 = Vector128.FusedMultiplyAdd(r0, v, a02); a12 = Vector128.FusedMultiplyAdd(r1, v, a12);
            a22 = Vector128.FusedMultiplyAdd(r2, v, a22); a32 = Vector128.FusedMultiplyAdd(r3, v, a32);
            v = Vector128.Load(x3 + c);
            a03 = Vector128.FusedMultiplyAdd(r0, v, a03); a13 = Vector128.FusedMultiplyAdd(r1, v, a13);
            a23 = Vector128.FusedMultiplyAdd(r2, v, a23); a33 = Vector128.FusedMultiplyAdd(r3, v, a33);
        }
        sums[0] = Vector128.Sum(a00); sums[1] = Vector128.Sum(a10); sums[2] = Vector128.Sum(a20); sums[3] = Vector128.Sum(a30);
        sums[4] = Vector128.Sum(a01); sums[5] = Vector128.Sum(a11); sums[6] = Vector128.Sum(a21); sums[7] = Vector128.Sum(a31);
        sums[8] = Vector128.Sum(a02); sums[9] = Vector128.Sum(a12); sums[10] = Vector128.Sum(a22); sums[11] = Vector128.Sum(a32);
        sums[12] = Vector128.Sum(a03); sums[13] = Vector128.Sum(a13); sums[14] = Vector128.Sum(a23); sums[15] = Vector128.Sum(a33);
    }

    /// <summary>The AVX2 tile: 4 rows × 2 tokens, 8 accumulators, which fits the 16 ymm registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x2(float* w, int columns, float* x, int vectorEnd, float* sums)
    {
        float* w1 = w + columns, w2 = w1 + columns, w3 = w2 + columns;
        float* x1 = x + columns;
        Vector256<float> a00 = default, a01 = default, a10 = default, a11 = default;
        Vector256<float> a20 = default, a21 = default, a30 = default, a31 = default;
        for (int c = 0; c < vectorEnd; c += Vector256<float>.Count)
        {
            var r0 = Vector256.Load(w + c);
            var r1 = Vector256.Load(w1 + c);
            var r2 = Vector256.Load(w2 + c);
            var r3 = Vector256.Load(w3 + c);
            var v = Vector256.Load(x + c);
            a00 = Vector256.FusedMultiplyAdd(r0, v, a00); a10 = Vector256.FusedMultiplyAdd(r1, v, a10);
            a20 = Vector256.FusedMultiplyAdd(r2, v, a20); a30 = Vector256.FusedMultiplyAdd(r3, v, a30);
            v = Vector256.Load(x1 + c);
            a01 = Vector256.FusedMultiplyAdd(r0, v, a01); a11 = Vector256.FusedMultiplyAdd(r1, v, a11);
            a21 = Vector256.FusedMultiplyAdd(r2, v, a21); a31 = Vector256.FusedMultiplyAdd(r3, v, a31);
        }
        sums[0] = Vector256.Sum(a00); sums[1] = Vector256.Sum(a10); sums[2] = Vector256.Sum(a20); sums[3] = Vector256.Sum(a30);
        sums[4] = Vector256.Sum(a01); sums[5] = Vector256.Sum(a11); sums[6] = Vector256.Sum(a21); sums[7] = Vector256.Sum(a31);
    }
}
