using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Compiler.Decomposition;

/// <summary>
/// BlockLDLQ's feedback product for one 8-column block: T (rows×8) += E (rows×depth) · P (depth×8), where P is
/// the block's column panel of the LDLᵀ factor stored contiguously. It rounds exactly like
/// <see cref="Gemm"/> on the same operands (each element sums its terms from zero in depth blocks of
/// <see cref="GemmDriver{T}.DepthBlock"/> with FMAs in k order, then adds the block sum to T), but without
/// padding 8 columns to the GEMM's 32-wide register tile or packing per call.
/// </summary>
internal static unsafe class BlockFeedback
{
    private const int Columns = 8;
    private const int RowsPerGroup = 8;

    private static readonly int DepthBlock = GemmDriver<float>.DepthBlock(GemmKernelKinds.Best);

    /// <param name="e">E's first row, starting at the first of the depth columns; row r at e[r·lde].</param>
    /// <param name="panel">P, depth×8 row-major.</param>
    /// <param name="t">T, rows×8 row-major.</param>
    public static void Accumulate(ReadOnlySpan<float> e, int lde, int rows, int depth, ReadOnlySpan<float> panel, Span<float> t)
    {
        if (rows == 0 || depth == 0) return;
        if ((long)(rows - 1) * lde + depth > e.Length || (long)depth * Columns > panel.Length || (long)rows * Columns > t.Length)
            throw new ArgumentException($"BlockFeedback: operands too short for {rows} rows × depth {depth}.");
        fixed (float* pe = e, pp = panel, pt = t)
        {
            for (int k0 = 0; k0 < depth; k0 += DepthBlock)
            {
                int kc = Math.Min(DepthBlock, depth - k0);
                int r = 0;
                if (Vector256.IsHardwareAccelerated)
                    for (; r + RowsPerGroup <= rows; r += RowsPerGroup)
                        EightRows(pe + (nint)r * lde + k0, lde, kc, pp + (nint)k0 * Columns, pt + r * Columns);
                for (; r < rows; r++)
                    OneRow(pe + (nint)r * lde + k0, kc, pp + (nint)k0 * Columns, pt + r * Columns);
            }
        }
    }

    // t[0:8, 0:8] += Σ_p e[i·lde + p] · panel[p·8 + c]: one accumulator row per E row, a panel row per step.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void EightRows(float* e, nint lde, int kc, float* panel, float* t)
    {
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        float* e1 = e + lde, e2 = e1 + lde, e3 = e2 + lde, e4 = e3 + lde, e5 = e4 + lde, e6 = e5 + lde, e7 = e6 + lde;
        for (int p = 0; p < kc; p++)
        {
            Vector256<float> l = Vector256.Load(panel + p * Columns);
            c0 = Vector256.FusedMultiplyAdd(Vector256.Create(e[p]), l, c0);
            c1 = Vector256.FusedMultiplyAdd(Vector256.Create(e1[p]), l, c1);
            c2 = Vector256.FusedMultiplyAdd(Vector256.Create(e2[p]), l, c2);
            c3 = Vector256.FusedMultiplyAdd(Vector256.Create(e3[p]), l, c3);
            c4 = Vector256.FusedMultiplyAdd(Vector256.Create(e4[p]), l, c4);
            c5 = Vector256.FusedMultiplyAdd(Vector256.Create(e5[p]), l, c5);
            c6 = Vector256.FusedMultiplyAdd(Vector256.Create(e6[p]), l, c6);
            c7 = Vector256.FusedMultiplyAdd(Vector256.Create(e7[p]), l, c7);
        }
        Vector256.Store(Vector256.Load(t + 0 * Columns) + c0, t + 0 * Columns);
        Vector256.Store(Vector256.Load(t + 1 * Columns) + c1, t + 1 * Columns);
        Vector256.Store(Vector256.Load(t + 2 * Columns) + c2, t + 2 * Columns);
        Vector256.Store(Vector256.Load(t + 3 * Columns) + c3, t + 3 * Columns);
        Vector256.Store(Vector256.Load(t + 4 * Columns) + c4, t + 4 * Columns);
        Vector256.Store(Vector256.Load(t + 5 * Columns) + c5, t + 5 * Columns);
        Vector256.Store(Vector256.Load(t + 6 * Columns) + c6, t + 6 * Columns);
        Vector256.Store(Vector256.Load(t + 7 * Columns) + c7, t + 7 * Columns);
    }

    /// <summary>The scalar reference: the same FMA chain per element.</summary>
    private static void OneRow(float* e, int kc, float* panel, float* t)
    {
        for (int c = 0; c < Columns; c++)
        {
            float acc = 0;
            for (int p = 0; p < kc; p++) acc = MathF.FusedMultiplyAdd(e[p], panel[p * Columns + c], acc);
            t[c] += acc;
        }
    }
}
