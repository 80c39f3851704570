using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Training.Arithmetic;

/// <summary>
/// X[t, j] += Σ_i D[t, i]·M[i, j] for a few tokens: weighted sums of a matrix's rows, the transposed product's inner
/// loop (<see cref="RowProducts.MultiplyTransposed"/>) and the classifier's backward. Every element takes its terms in
/// row order i = 0..rows−1, one fused multiply-add each, skipping D[t, i] = 0, exactly as
/// <see cref="FixedOrder.AddScaled"/> row by row would: each element's chain is its own, so the tiling, the vector width
/// and the thread that runs it never change a bit.
/// </summary>
/// <remarks>
/// Row by row, every term loads and stores the whole output row; a tile of four tokens × 64 columns (sixteen Vector512
/// accumulators; 4 × 32 in eight Vector256 ones) keeps its sums in registers while every row passes, so a term costs
/// one load of M per four tokens. Prefill's <see cref="RankUpdate"/> computes the same sums for a few ranks, but with
/// one vector of columns per tile (a load of Lᵀ and four broadcasts per four multiply-adds) and without skipping zero
/// coefficients, which this order has always skipped.
/// </remarks>
internal static class WeightedRowSums
{
    private const int TileTokens = 4;

    /// <summary>
    /// X[t·xStride + j] += Σ_i D[t·dStride + i]·M[i·mStride + j] for t &lt; <paramref name="tokens"/>, j &lt; <paramref name="columns"/>,
    /// i &lt; <paramref name="rows"/>.
    /// </summary>
    public static void Add(ReadOnlySpan<float> m, int mStride, int rows, ReadOnlySpan<float> d, int dStride,
        Span<float> x, int xStride, int tokens, int columns) =>
        Add(m, mStride, rows, d, dStride, x, xStride, tokens, columns, KernelPaths.Best);

    /// <inheritdoc cref="Add(ReadOnlySpan{float}, int, int, ReadOnlySpan{float}, int, Span{float}, int, int, int)"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Add(ReadOnlySpan<float> m, int mStride, int rows, ReadOnlySpan<float> d, int dStride,
        Span<float> x, int xStride, int tokens, int columns, KernelPath path)
    {
        if (rows > 0 && tokens > 0 && columns > 0
            && ((long)(rows - 1) * mStride + columns > m.Length || (long)(tokens - 1) * dStride + rows > d.Length || (long)(tokens - 1) * xStride + columns > x.Length))
            throw new ArgumentException($"{tokens} tokens × {columns} columns over {rows} rows overrun M ({m.Length}), D ({d.Length}) or X ({x.Length})");
        int tileColumns = path >= KernelPath.Vector512 ? 64 : path >= KernelPath.Vector256 ? 32 : 0;
        int tiled = tileColumns == 0 ? 0 : columns / tileColumns * tileColumns, t = 0;
        if (tiled > 0)
            for (; t + TileTokens <= tokens; t += TileTokens)
            {
                for (int j = 0; j < tiled; j += tileColumns)
                {
                    if (tileColumns == 64) Tile512(m, mStride, rows, d, dStride, x, xStride, t, j);
                    else Tile256(m, mStride, rows, d, dStride, x, xStride, t, j);
                }
                for (int k = t; k < t + TileTokens; k++) RowByRow(m, mStride, rows, d, dStride, x, xStride, k, tiled, columns, path);
            }
        for (; t < tokens; t++) RowByRow(m, mStride, rows, d, dStride, x, xStride, t, 0, columns, path);
    }

    // Columns [from, to) of token t, one AddScaled per row.
    private static void RowByRow(ReadOnlySpan<float> m, int mStride, int rows, ReadOnlySpan<float> d, int dStride,
        Span<float> x, int xStride, int t, int from, int to, KernelPath path)
    {
        if (from >= to) return;
        var target = x.Slice(t * xStride + from, to - from);
        for (int i = 0; i < rows; i++)
        {
            float s = d[t * dStride + i];
            if (s != 0) FixedOrder.AddScaled(target, s, m.Slice(i * mStride + from, to - from), path);
        }
    }

    private static void Tile512(ReadOnlySpan<float> m, int mStride, int rows, ReadOnlySpan<float> d, int dStride, Span<float> x, int xStride, int t, int j)
    {
        ref float row = ref Unsafe.Add(ref MemoryMarshal.GetReference(m), j);
        ref float d0 = ref Unsafe.Add(ref MemoryMarshal.GetReference(d), t * dStride);
        ref float d1 = ref Unsafe.Add(ref d0, dStride);
        ref float d2 = ref Unsafe.Add(ref d1, dStride);
        ref float d3 = ref Unsafe.Add(ref d2, dStride);
        ref float x0 = ref Unsafe.Add(ref MemoryMarshal.GetReference(x), t * xStride + j);
        ref float x1 = ref Unsafe.Add(ref x0, xStride);
        ref float x2 = ref Unsafe.Add(ref x1, xStride);
        ref float x3 = ref Unsafe.Add(ref x2, xStride);
        Vector512<float> a00 = Vector512.LoadUnsafe(ref x0), a01 = Vector512.LoadUnsafe(ref x0, 16), a02 = Vector512.LoadUnsafe(ref x0, 32), a03 = Vector512.LoadUnsafe(ref x0, 48);
        Vector512<float> a10 = Vector512.LoadUnsafe(ref x1), a11 = Vector512.LoadUnsafe(ref x1, 16), a12 = Vector512.LoadUnsafe(ref x1, 32), a13 = Vector512.LoadUnsafe(ref x1, 48);
        Vector512<float> a20 = Vector512.LoadUnsafe(ref x2), a21 = Vector512.LoadUnsafe(ref x2, 16), a22 = Vector512.LoadUnsafe(ref x2, 32), a23 = Vector512.LoadUnsafe(ref x2, 48);
        Vector512<float> a30 = Vector512.LoadUnsafe(ref x3), a31 = Vector512.LoadUnsafe(ref x3, 16), a32 = Vector512.LoadUnsafe(ref x3, 32), a33 = Vector512.LoadUnsafe(ref x3, 48);
        for (int i = 0; i < rows; i++, row = ref Unsafe.Add(ref row, mStride))
        {
            var m0 = Vector512.LoadUnsafe(ref row);
            var m1 = Vector512.LoadUnsafe(ref row, 16);
            var m2 = Vector512.LoadUnsafe(ref row, 32);
            var m3 = Vector512.LoadUnsafe(ref row, 48);
            if (Unsafe.Add(ref d0, i) is var s0 && s0 != 0)
            {
                var s = Vector512.Create(s0);
                a00 = Vector512.FusedMultiplyAdd(s, m0, a00); a01 = Vector512.FusedMultiplyAdd(s, m1, a01);
                a02 = Vector512.FusedMultiplyAdd(s, m2, a02); a03 = Vector512.FusedMultiplyAdd(s, m3, a03);
            }
            if (Unsafe.Add(ref d1, i) is var s1 && s1 != 0)
            {
                var s = Vector512.Create(s1);
                a10 = Vector512.FusedMultiplyAdd(s, m0, a10); a11 = Vector512.FusedMultiplyAdd(s, m1, a11);
                a12 = Vector512.FusedMultiplyAdd(s, m2, a12); a13 = Vector512.FusedMultiplyAdd(s, m3, a13);
            }
            if (Unsafe.Add(ref d2, i) is var s2 && s2 != 0)
            {
                var s = Vector512.Create(s2);
                a20 = Vector512.FusedMultiplyAdd(s, m0, a20); a21 = Vector512.FusedMultiplyAdd(s, m1, a21);
                a22 = Vector512.FusedMultiplyAdd(s, m2, a22); a23 = Vector512.FusedMultiplyAdd(s, m3, a23);
            }
            if (Unsafe.Add(ref d3, i) is var s3 && s3 != 0)
            {
                var s = Vector512.Create(s3);
                a30 = Vector512.FusedMultiplyAdd(s, m0, a30); a31 = Vector512.FusedMultiplyAdd(s, m1, a31);
                a32 = Vector512.FusedMultiplyAdd(s, m2, a32); a33 = Vector512.FusedMultiplyAdd(s, m3, a33);
            }
        }
        a00.StoreUnsafe(ref x0); a01.StoreUnsafe(ref x0, 16); a02.StoreUnsafe(ref x0, 32); a03.StoreUnsafe(ref x0, 48);
        a10.StoreUnsafe(ref x1); a11.StoreUnsafe(ref x1, 16); a12.StoreUnsafe(ref x1, 32); a13.StoreUnsafe(ref x1, 48);
        a20.StoreUnsafe(ref x2); a21.StoreUnsafe(ref x2, 16); a22.StoreUnsafe(ref x2, 32); a23.StoreUnsafe(ref x2, 48);
        a30.StoreUnsafe(ref x3); a31.StoreUnsafe(ref x3, 16); a32.StoreUnsafe(ref x3, 32); a33.StoreUnsafe(ref x3, 48);
    }

    private static void Tile256(ReadOnlySpan<float> m, int mStride, int rows, ReadOnlySpan<float> d, int dStride, Span<float> x, int xStride, int t, int j)
    {
        ref float row = ref Unsafe.Add(ref MemoryMarshal.GetReference(m), j);
        ref float d0 = ref Unsafe.Add(ref MemoryMarshal.GetReference(d), t * dStride);
        ref float d1 = ref Unsafe.Add(ref d0, dStride);
        ref float d2 = ref Unsafe.Add(ref d1, dStride);
        ref float d3 = ref Unsafe.Add(ref d2, dStride);
        ref float x0 = ref Unsafe.Add(ref MemoryMarshal.GetReference(x), t * xStride + j);
        ref float x1 = ref Unsafe.Add(ref x0, xStride);
        ref float x2 = ref Unsafe.Add(ref x1, xStride);
        ref float x3 = ref Unsafe.Add(ref x2, xStride);
        Vector256<float> a00 = Vector256.LoadUnsafe(ref x0), a01 = Vector256.LoadUnsafe(ref x0, 8), a02 = Vector256.LoadUnsafe(ref x0, 16), a03 = Vector256.LoadUnsafe(ref x0, 24);
        Vector256<float> a10 = Vector256.LoadUnsafe(ref x1), a11 = Vector256.LoadUnsafe(ref x1, 8), a12 = Vector256.LoadUnsafe(ref x1, 16), a13 = Vector256.LoadUnsafe(ref x1, 24);
        Vector256<float> a20 = Vector256.LoadUnsafe(ref x2), a21 = Vector256.LoadUnsafe(ref x2, 8), a22 = Vector256.LoadUnsafe(ref x2, 16), a23 = Vector256.LoadUnsafe(ref x2, 24);
        Vector256<float> a30 = Vector256.LoadUnsafe(ref x3), a31 = Vector256.LoadUnsafe(ref x3, 8), a32 = Vector256.LoadUnsafe(ref x3, 16), a33 = Vector256.LoadUnsafe(ref x3, 24);
        for (int i = 0; i < rows; i++, row = ref Unsafe.Add(ref row, mStride))
        {
            var m0 = Vector256.LoadUnsafe(ref row);
            var m1 = Vector256.LoadUnsafe(ref row, 8);
            var m2 = Vector256.LoadUnsafe(ref row, 16);
            var m3 = Vector256.LoadUnsafe(ref row, 24);
            if (Unsafe.Add(ref d0, i) is var s0 && s0 != 0)
            {
                var s = Vector256.Create(s0);
                a00 = Vector256.FusedMultiplyAdd(s, m0, a00); a01 = Vector256.FusedMultiplyAdd(s, m1, a01);
                a02 = Vector256.FusedMultiplyAdd(s, m2, a02); a03 = Vector256.FusedMultiplyAdd(s, m3, a03);
            }
            if (Unsafe.Add(ref d1, i) is var s1 && s1 != 0)
            {
                var s = Vector256.Create(s1);
                a10 = Vector256.FusedMultiplyAdd(s, m0, a10); a11 = Vector256.FusedMultiplyAdd(s, m1, a11);
                a12 = Vector256.FusedMultiplyAdd(s, m2, a12); a13 = Vector256.FusedMultiplyAdd(s, m3, a13);
            }
            if (Unsafe.Add(ref d2, i) is var s2 && s2 != 0)
            {
                var s = Vector256.Create(s2);
                a20 = Vector256.FusedMultiplyAdd(s, m0, a20); a21 = Vector256.FusedMultiplyAdd(s, m1, a21);
                a22 = Vector256.FusedMultiplyAdd(s, m2, a22); a23 = Vector256.FusedMultiplyAdd(s, m3, a23);
            }
            if (Unsafe.Add(ref d3, i) is var s3 && s3 != 0)
            {
                var s = Vector256.Create(s3);
                a30 = Vector256.FusedMultiplyAdd(s, m0, a30); a31 = Vector256.FusedMultiplyAdd(s, m1, a31);
                a32 = Vector256.FusedMultiplyAdd(s, m2, a32); a33 = Vector256.FusedMultiplyAdd(s, m3, a33);
            }
        }
        a00.StoreUnsafe(ref x0); a01.StoreUnsafe(ref x0, 8); a02.StoreUnsafe(ref x0, 16); a03.StoreUnsafe(ref x0, 24);
        a10.StoreUnsafe(ref x1); a11.StoreUnsafe(ref x1, 8); a12.StoreUnsafe(ref x1, 16); a13.StoreUnsafe(ref x1, 24);
        a20.StoreUnsafe(ref x2); a21.StoreUnsafe(ref x2, 8); a22.StoreUnsafe(ref x2, 16); a23.StoreUnsafe(ref x2, 24);
        a30.StoreUnsafe(ref x3); a31.StoreUnsafe(ref x3, 8); a32.StoreUnsafe(ref x3, 16); a33.StoreUnsafe(ref x3, 24);
    }
}
