using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Caldera.Compiler.LinearAlgebra;
using Caldera.Compiler.Quantizers;

namespace Caldera.Compiler.Decomposition;

/// <summary>
/// BlockLDLQ's refinement sweeps: blocks j = J−1 … 0 are re-rounded at T_j = Q̂_j + G_j·H_jj⁻¹ with G = E·H
/// (m×n'), the coordinate-wise optimum given every other block; a change of δ in Q̂[r, c] changes E[r, c] by −δ and
/// so G_r by −δ·H[c, :].
/// </summary>
/// <remarks>
/// <para>G starts as one GEMM. Changes are sparse (≈ 5 % of coordinates in the first sweep, falling to ≈ 0.1 %), so
/// each is one length-n' axpy per changed coordinate.</para>
/// <para>Most targets barely move between sweeps, so most searches would return the code they returned last time.
/// Each search also writes a <see cref="SearchCertificate"/> (<see cref="ILatticeCodebook.QuantizeCertified"/>): while
/// it covers the block's moved target, the search cannot change its answer and is skipped. The remaining searches of
/// a group's rows (<see cref="RowsPerGroup"/>) go through the codebook together, so they still fill its 16-lane
/// batches. Results are those of searching every time.</para>
/// </remarks>
internal static class BlockLdlqSweeps
{
    private const int Block = BlockLdlq.Block;

    /// <summary>
    /// Most rows swept together. A changed block's G update reads its 8 rows of H (8·n'·4 bytes, 128 KB at n' 4096),
    /// which come from memory once per group that changes the block and are then shared by the group's other changes:
    /// at 4096², 64-row groups spent 2.1 CPU s per Q-update in those updates and 512-row groups 1.5 s. The group's
    /// rows of G (8 MB) then live in L3 instead of L2, which the prefetch in <see cref="SweepGroup"/> hides.
    /// </summary>
    internal const int MaxRowsPerGroup = 512;

    /// <summary>Fewest rows swept together: a group's searches should still fill the codebook's 16-lane batches.</summary>
    internal const int MinRowsPerGroup = 64;

    /// <summary>Rows prefetched ahead by the target loop: each row's G and Q̂ blocks lie a row of memory apart.</summary>
    private const int PrefetchRows = 8;

    /// <param name="h">H in fp32 (n'×n', <see cref="BlockLdlq.Hessian"/>), the matrix <paramref name="f"/> factors.</param>
    /// <param name="g">m×n' scratch that becomes G = E·H.</param>
    public static void Run(BlockLdlqState state, BlockLdlq.Factors f, float[] h, int sweeps, float[] g, int threads)
    {
        int m = state.Rows, padded = f.Padded;
        Gemm.Multiply(Op.N, Op.N, m, padded, padded, 1f, state.Residual, padded, h, padded, 0f, g, padded, threads);
        int perGroup = RowsPerGroup(m, threads);
        Parallelism.For((m + perGroup - 1) / perGroup, threads,
            c => SweepGroup(state, f, h, sweeps, g, c * perGroup, Math.Min(perGroup, m - c * perGroup)));
    }

    /// <summary>One group per thread where that fits between <see cref="MinRowsPerGroup"/> and <see cref="MaxRowsPerGroup"/>. Rows are swept independently, so the grouping changes no result.</summary>
    internal static int RowsPerGroup(int rows, int threads) => Math.Clamp((rows + threads - 1) / threads, MinRowsPerGroup, MaxRowsPerGroup);

    private static unsafe void SweepGroup(BlockLdlqState state, BlockLdlq.Factors f, float[] h, int sweeps, float[] g, int r0, int rows)
    {
        int padded = f.Padded, blocks = padded / Block, n = state.Columns;
        // Per block and row (block-major): the target last searched and its search's certificate (none before any).
        float[] lastTarget = ArrayPool<float>.Shared.Rent(blocks * rows * Block);
        var certificates = ArrayPool<SearchCertificate>.Shared.Rent(blocks * rows);
        certificates.AsSpan(0, blocks * rows).Fill(SearchCertificate.Nothing);
        float[] targets = ArrayPool<float>.Shared.Rent(3 * rows * Block);
        var searchedCertificates = ArrayPool<SearchCertificate>.Shared.Rent(rows);
        ushort[] wordStorage = ArrayPool<ushort>.Shared.Rent(rows * state.WordsPerVector);
        int[] searchedStorage = ArrayPool<int>.Shared.Rent(rows);
        Span<float> t = targets.AsSpan(0, rows * Block), q = targets.AsSpan(rows * Block, rows * Block);
        Span<float> deltas = targets.AsSpan(2 * rows * Block, rows * Block);
        Span<SearchCertificate> searchedCertificate = searchedCertificates.AsSpan(0, rows);
        Span<ushort> words = wordStorage.AsSpan(0, rows * state.WordsPerVector);
        Span<int> searched = searchedStorage.AsSpan(0, rows);
        Span<float> qBlock = stackalloc float[Block];
        fixed (float* gBase = g, qBase = state.Rounded.Data)
        {
            for (int s = 0; s < sweeps; s++)
                for (int j = blocks - 1; j >= 0; j--)
                {
                    int c0 = j * Block, width = Math.Min(Block, n - c0), count = 0;
                    for (int i = 0; i < rows; i++)
                    {
                        int r = r0 + i;
                        if (Sse.IsSupported && i + PrefetchRows < rows)
                        {
                            // Both ends of the 8-float blocks, which may straddle a cache line.
                            long ahead = r + PrefetchRows;
                            Sse.Prefetch0(gBase + (ahead * padded) + c0);
                            Sse.Prefetch0(gBase + (ahead * padded) + c0 + Block - 1);
                            Sse.Prefetch0(qBase + (ahead * n) + c0);
                            Sse.Prefetch0(qBase + (ahead * n) + c0 + width - 1);
                        }
                        qBlock.Clear();
                        state.Rounded.Row(r).Slice(c0, width).CopyTo(qBlock);
                        var target = t.Slice(count * Block, Block);
                        Target(qBlock, g.AsSpan(r * padded + c0, Block), f.DiagonalInverse[j], target);
                        int cached = j * rows + i;
                        if (certificates[cached].Covers(target, lastTarget.AsSpan(cached * Block, Block), qBlock)) continue;
                        searched[count++] = r;
                    }
                    if (count == 0) continue;

                    // A partial last block is searched on its present coordinates, which a certificate does not cover.
                    bool full = width == Block;
                    state.RoundBlock(j, searched[..count], t, deltas, q, words, full ? searchedCertificate[..count] : default);
                    for (int k = 0; k < count; k++)
                    {
                        int r = searched[k], cached = j * rows + (r - r0);
                        if (full)
                        {
                            t.Slice(k * Block, Block).CopyTo(lastTarget.AsSpan(cached * Block, Block));
                            certificates[cached] = searchedCertificate[k];
                        }
                        var gRow = g.AsSpan(r * padded, padded);
                        for (int c = 0; c < Block; c++)
                        {
                            float delta = deltas[k * Block + c];
                            if (delta != 0) TensorPrimitives.FusedMultiplyAdd(h.AsSpan((c0 + c) * padded, padded), -delta, gRow, gRow);
                        }
                    }
                }
        }
        ArrayPool<float>.Shared.Return(lastTarget);
        ArrayPool<SearchCertificate>.Shared.Return(certificates);
        ArrayPool<float>.Shared.Return(targets);
        ArrayPool<SearchCertificate>.Shared.Return(searchedCertificates);
        ArrayPool<ushort>.Shared.Return(wordStorage);
        ArrayPool<int>.Shared.Return(searchedStorage);
    }

    /// <summary>
    /// t = q + g·H_jj⁻¹ for one row's block (8-vectors; <paramref name="inverse"/> is H_jj⁻¹, 8×8 row-major):
    /// t_c = q_c + Σ_d g_d·inverse[d, c], summed in d order with FMAs on every path.
    /// </summary>
    internal static void Target(ReadOnlySpan<float> q, ReadOnlySpan<float> g, ReadOnlySpan<float> inverse, Span<float> t)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            var sum = Vector256.Create(q[..Block]);
            for (int d = 0; d < Block; d++)
                sum = Vector256.FusedMultiplyAdd(Vector256.Create(g[d]), Vector256.Create(inverse.Slice(d * Block, Block)), sum);
            sum.CopyTo(t);
            return;
        }
        TargetScalar(q, g, inverse, t);
    }

    /// <summary>The scalar reference of <see cref="Target"/>.</summary>
    internal static void TargetScalar(ReadOnlySpan<float> q, ReadOnlySpan<float> g, ReadOnlySpan<float> inverse, Span<float> t)
    {
        for (int c = 0; c < Block; c++)
        {
            float sum = q[c];
            for (int d = 0; d < Block; d++) sum = MathF.FusedMultiplyAdd(g[d], inverse[d * Block + c], sum);
            t[c] = sum;
        }
    }
}
