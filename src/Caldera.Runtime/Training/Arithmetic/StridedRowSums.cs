using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Training.Arithmetic;

/// <summary>
/// y_k[j] += Σ_a Σ_b c[a·cOuter + b·cInner + k·cOutput]·m[a·mOuter + b·mInner + j] for up to four outputs k: weighted sums
/// of head-width rows picked by two strides, attention's inner loops (o = Σ_p P_p·v_p, dq, and dk, dv summed over a
/// query group's heads). Every element takes its terms in order (a, then b), one fused multiply-add each, none skipped,
/// exactly as <see cref="FixedOrder.AddScaled"/> term by term would: each element's chain is its own, so the tiling and
/// the vector width never change a bit.
/// </summary>
/// <remarks>
/// Term by term, each AddScaled stores the output row and the next loads it again, so every term waits for the last
/// one's store; here a tile of four outputs × 64 columns keeps its sixteen sums in Vector512 registers while the rows
/// pass (one load of m per four multiply-adds), and narrower paths keep one output's sums in registers.
/// </remarks>
internal static class StridedRowSums
{
    private const int TileOutputs = 4, TileColumns = 64;

    /// <inheritdoc cref="StridedRowSums"/>
    public static void Add(ReadOnlySpan<float> c, int cOuter, int cInner, int cOutput, ReadOnlySpan<float> m, int mOuter, int mInner,
        int outer, int inner, Span<float> y, int yStride, int outputs, int columns) =>
        Add(c, cOuter, cInner, cOutput, m, mOuter, mInner, outer, inner, y, yStride, outputs, columns, KernelPaths.Best);

    /// <inheritdoc cref="StridedRowSums"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Add(ReadOnlySpan<float> c, int cOuter, int cInner, int cOutput, ReadOnlySpan<float> m, int mOuter, int mInner,
        int outer, int inner, Span<float> y, int yStride, int outputs, int columns, KernelPath path)
    {
        if (outputs < 1 || outputs > TileOutputs) throw new ArgumentOutOfRangeException(nameof(outputs), $"{outputs} outputs; 1 to {TileOutputs} are summed at once");
        if (outer <= 0 || inner <= 0 || columns <= 0) return;
        long lastC = (long)(outer - 1) * cOuter + (long)(inner - 1) * cInner + (long)(outputs - 1) * cOutput;
        long lastM = (long)(outer - 1) * mOuter + (long)(inner - 1) * mInner + columns - 1;
        long lastY = (long)(outputs - 1) * yStride + columns - 1;
        if (lastC >= c.Length || lastM >= m.Length || lastY >= y.Length)
            throw new ArgumentException($"{outer}×{inner} terms of {outputs} outputs × {columns} columns overrun c ({c.Length}), m ({m.Length}) or y ({y.Length})");
        int j = 0;
        if (path >= KernelPath.Vector512 && outputs == TileOutputs)
            for (; j + TileColumns <= columns; j += TileColumns) Tile512(c, cOuter, cInner, cOutput, m, mOuter, mInner, outer, inner, y, yStride, j);
        for (int k = 0; k < outputs; k++)
            OneOutput(c[(k * cOutput)..], cOuter, cInner, m, mOuter, mInner, outer, inner, y[(k * yStride)..], j, columns, path);
    }

    // Columns [from, to) of one output: the widest vector the path has, then the scalar chain.
    private static void OneOutput(ReadOnlySpan<float> c, int cOuter, int cInner, ReadOnlySpan<float> m, int mOuter, int mInner,
        int outer, int inner, Span<float> y, int from, int to, KernelPath path)
    {
        ref float pc = ref MemoryMarshal.GetReference(c);
        ref float pm = ref MemoryMarshal.GetReference(m);
        ref float py = ref MemoryMarshal.GetReference(y);
        int j = from;
        if (path >= KernelPath.Vector512)
            for (; j + 16 <= to; j += 16)
            {
                var acc = Vector512.LoadUnsafe(ref py, (nuint)j);
                for (int a = 0; a < outer; a++)
                    for (int b = 0; b < inner; b++)
                        acc = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref pc, a * cOuter + b * cInner)),
                            Vector512.LoadUnsafe(ref pm, (nuint)(a * mOuter + b * mInner + j)), acc);
                acc.StoreUnsafe(ref py, (nuint)j);
            }
        if (path >= KernelPath.Vector256)
            for (; j + 8 <= to; j += 8)
            {
                var acc = Vector256.LoadUnsafe(ref py, (nuint)j);
                for (int a = 0; a < outer; a++)
                    for (int b = 0; b < inner; b++)
                        acc = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref pc, a * cOuter + b * cInner)),
                            Vector256.LoadUnsafe(ref pm, (nuint)(a * mOuter + b * mInner + j)), acc);
                acc.StoreUnsafe(ref py, (nuint)j);
            }
        if (path >= KernelPath.Vector128)
            for (; j + 4 <= to; j += 4)
            {
                var acc = Vector128.LoadUnsafe(ref py, (nuint)j);
                for (int a = 0; a < outer; a++)
                    for (int b = 0; b < inner; b++)
                        acc = Vector128.FusedMultiplyAdd(Vector128.Create(Unsafe.Add(ref pc, a * cOuter + b * cInner)),
                            Vector128.LoadUnsafe(ref pm, (nuint)(a * mOuter + b * mInner + j)), acc);
                acc.StoreUnsafe(ref py, (nuint)j);
            }
        for (; j < to; j++)
        {
            float acc = Unsafe.Add(ref py, j);
            for (int a = 0; a < outer; a++)
                for (int b = 0; b < inner; b++)
                    acc = MathF.FusedMultiplyAdd(Unsafe.Add(ref pc, a * cOuter + b * cInner), Unsafe.Add(ref pm, a * mOuter + b * mInner + j), acc);
            Unsafe.Add(ref py, j) = acc;
        }
    }

    // Four outputs × columns [j, j + 64): sixteen accumulators, four loads of m and four broadcasts of c per sixteen terms.
    private static void Tile512(ReadOnlySpan<float> c, int cOuter, int cInner, int cOutput, ReadOnlySpan<float> m, int mOuter, int mInner,
        int outer, int inner, Span<float> y, int yStride, int j)
    {
        ref float pc = ref MemoryMarshal.GetReference(c);
        ref float pm = ref Unsafe.Add(ref MemoryMarshal.GetReference(m), j);
        ref float y0 = ref Unsafe.Add(ref MemoryMarshal.GetReference(y), j);
        ref float y1 = ref Unsafe.Add(ref y0, yStride);
        ref float y2 = ref Unsafe.Add(ref y1, yStride);
        ref float y3 = ref Unsafe.Add(ref y2, yStride);
        Vector512<float> a00 = Vector512.LoadUnsafe(ref y0), a01 = Vector512.LoadUnsafe(ref y0, 16), a02 = Vector512.LoadUnsafe(ref y0, 32), a03 = Vector512.LoadUnsafe(ref y0, 48);
        Vector512<float> a10 = Vector512.LoadUnsafe(ref y1), a11 = Vector512.LoadUnsafe(ref y1, 16), a12 = Vector512.LoadUnsafe(ref y1, 32), a13 = Vector512.LoadUnsafe(ref y1, 48);
        Vector512<float> a20 = Vector512.LoadUnsafe(ref y2), a21 = Vector512.LoadUnsafe(ref y2, 16), a22 = Vector512.LoadUnsafe(ref y2, 32), a23 = Vector512.LoadUnsafe(ref y2, 48);
        Vector512<float> a30 = Vector512.LoadUnsafe(ref y3), a31 = Vector512.LoadUnsafe(ref y3, 16), a32 = Vector512.LoadUnsafe(ref y3, 32), a33 = Vector512.LoadUnsafe(ref y3, 48);
        for (int a = 0; a < outer; a++)
            for (int b = 0; b < inner; b++)
            {
                ref float row = ref Unsafe.Add(ref pm, a * mOuter + b * mInner);
                ref float w = ref Unsafe.Add(ref pc, a * cOuter + b * cInner);
                var m0 = Vector512.LoadUnsafe(ref row);
                var m1 = Vector512.LoadUnsafe(ref row, 16);
                var m2 = Vector512.LoadUnsafe(ref row, 32);
                var m3 = Vector512.LoadUnsafe(ref row, 48);
                var s = Vector512.Create(w);
                a00 = Vector512.FusedMultiplyAdd(s, m0, a00); a01 = Vector512.FusedMultiplyAdd(s, m1, a01);
                a02 = Vector512.FusedMultiplyAdd(s, m2, a02); a03 = Vector512.FusedMultiplyAdd(s, m3, a03);
                s = Vector512.Create(Unsafe.Add(ref w, cOutput));
                a10 = Vector512.FusedMultiplyAdd(s, m0, a10); a11 = Vector512.FusedMultiplyAdd(s, m1, a11);
                a12 = Vector512.FusedMultiplyAdd(s, m2, a12); a13 = Vector512.FusedMultiplyAdd(s, m3, a13);
                s = Vector512.Create(Unsafe.Add(ref w, 2 * cOutput));
                a20 = Vector512.FusedMultiplyAdd(s, m0, a20); a21 = Vector512.FusedMultiplyAdd(s, m1, a21);
                a22 = Vector512.FusedMultiplyAdd(s, m2, a22); a23 = Vector512.FusedMultiplyAdd(s, m3, a23);
                s = Vector512.Create(Unsafe.Add(ref w, 3 * cOutput));
                a30 = Vector512.FusedMultiplyAdd(s, m0, a30); a31 = Vector512.FusedMultiplyAdd(s, m1, a31);
                a32 = Vector512.FusedMultiplyAdd(s, m2, a32); a33 = Vector512.FusedMultiplyAdd(s, m3, a33);
            }
        a00.StoreUnsafe(ref y0); a01.StoreUnsafe(ref y0, 16); a02.StoreUnsafe(ref y0, 32); a03.StoreUnsafe(ref y0, 48);
        a10.StoreUnsafe(ref y1); a11.StoreUnsafe(ref y1, 16); a12.StoreUnsafe(ref y1, 32); a13.StoreUnsafe(ref y1, 48);
        a20.StoreUnsafe(ref y2); a21.StoreUnsafe(ref y2, 16); a22.StoreUnsafe(ref y2, 32); a23.StoreUnsafe(ref y2, 48);
        a30.StoreUnsafe(ref y3); a31.StoreUnsafe(ref y3, 16); a32.StoreUnsafe(ref y3, 32); a33.StoreUnsafe(ref y3, 48);
    }
}
