using System.Numerics.Tensors;
using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Compiler.Decomposition;

/// <summary>
/// BlockLDLQ's first pass, lazy and batched as in GPTQ. The targets T_j = B_j + E_{>j}·L_{>j,j} are accumulated
/// right-looking in U (m×n', starting at B): once block i is rounded, its error E_i owes every block j &lt; i the term
/// E_i·L_{i,j}. Inside a window of <see cref="WindowBlocks"/> blocks that term is added at once to the window's own
/// blocks (a row-local 8×8w update); the window's debt to everything left of it is paid after its last block with
/// one GEMM, U_{:,&lt;w} += E_{:,w}·L_{w,&lt;w}, so almost all of the pass's m·n'² feedback flops run at the GEMM's rate.
/// </summary>
/// <remarks>
/// Rows are independent, so the pass runs per panel of <see cref="PanelRows"/> rows, one panel per work item: a
/// panel's slices of U, E and Q̂ stay in cache from block to block (walking all m rows per block instead missed
/// cache on every row), and its GEMMs (panel × 8w × c₀) are still tall enough to run at full rate.
/// </remarks>
internal static class BlockLdlqPass
{
    /// <summary>
    /// Blocks per window: 128 columns makes the GEMM's depth 128 (under its 192-deep packed block) while the
    /// in-window update, ≤ 8·120 FMAs per row and block, stays a few percent of the work.
    /// </summary>
    internal const int WindowBlocks = 16;

    /// <summary>Rows per panel: twelve 16-row search batches, and a multiple of the GEMM tile's 12 rows.</summary>
    internal const int PanelRows = 192;

    private const int Block = BlockLdlq.Block;
    private const int RowsPerChunk = BlockLdlq.RowsPerChunk;

    /// <summary>Rounds every block once in <paramref name="u"/> (m×n', any contents); returns it, free for the caller to reuse.</summary>
    public static float[] Run(BlockLdlqState state, BlockLdlq.Factors f, int threads, float[] u)
    {
        int m = state.Rows;
        Parallelism.For((m + PanelRows - 1) / PanelRows, threads, p => RunPanel(state, f, u, p * PanelRows, Math.Min(PanelRows, m - p * PanelRows)));
        return u;
    }

    private static void RunPanel(BlockLdlqState state, BlockLdlq.Factors f, float[] u, int p0, int panelRows)
    {
        int n = state.Columns, padded = f.Padded, blocks = padded / Block;
        float[] e = state.Residual, lower = f.Lower;
        // U's pad columns are never read (a partial last block is rounded on its present coordinates), so they keep
        // whatever the buffer held.
        for (int r = p0; r < p0 + panelRows; r++) state.B.Row(r).CopyTo(u.AsSpan(r * padded, n));
        Span<float> t = stackalloc float[RowsPerChunk * Block];
        Span<float> q = stackalloc float[RowsPerChunk * Block];
        Span<ushort> words = stackalloc ushort[RowsPerChunk * state.WordsPerVector];

        for (int j1 = blocks; j1 > 0; j1 -= WindowBlocks)
        {
            int j0 = Math.Max(0, j1 - WindowBlocks), w0 = j0 * Block;
            for (int j = j1 - 1; j >= j0; j--)
            {
                int c0 = j * Block;
                for (int r0 = p0; r0 < p0 + panelRows; r0 += RowsPerChunk)
                {
                    int rows = Math.Min(RowsPerChunk, p0 + panelRows - r0);
                    for (int i = 0; i < rows; i++) u.AsSpan((r0 + i) * padded + c0, Block).CopyTo(t.Slice(i * Block, Block));
                    state.RoundBlock(j, r0, rows, t, default, q, words);
                }

                // U_{r, w0:c0} += Σ_k E[r, c0 + k]·L[c0 + k, w0:c0]: the window's blocks left of j.
                if (c0 == w0) continue;
                for (int r = p0; r < p0 + panelRows; r++)
                {
                    var target = u.AsSpan(r * padded + w0, c0 - w0);
                    for (int k = 0; k < Block; k++)
                    {
                        float ek = e[r * padded + c0 + k];
                        if (ek != 0) TensorPrimitives.FusedMultiplyAdd(lower.AsSpan((c0 + k) * padded + w0, c0 - w0), ek, target, target);
                    }
                }
            }
            if (w0 > 0)
                Gemm.Multiply(Op.N, Op.N, panelRows, w0, (j1 - j0) * Block, 1f, e.AsSpan(p0 * padded + w0), padded,
                    lower.AsSpan(w0 * padded), padded, 1f, u.AsSpan(p0 * padded), padded, threads: 1);
        }
    }
}
