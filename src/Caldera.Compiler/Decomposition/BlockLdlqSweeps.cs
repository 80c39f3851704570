using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Compiler.Decomposition;

/// <summary>
/// BlockLDLQ's refinement sweeps: blocks j = J−1 … 0 are re-rounded at T_j = Q̂_j + G_j·H_jj⁻¹ with G = E·H
/// (m×n'), the coordinate-wise optimum given every other block; a change of δ in Q̂[r, c] changes E[r, c] by −δ and
/// so G_r by −δ·H[c, :].
/// </summary>
/// <remarks>
/// <para>G starts as one GEMM. Changes are sparse (≈ 5 % of coordinates in the first sweep, falling to ≈ 0.1 %), so
/// each is one length-n' axpy; a group's rows of G stay in L2 while their sweeps run.</para>
/// <para>Most targets barely move between sweeps, so most searches would return the code they returned last time.
/// Each search also certifies a radius (<see cref="ILatticeCodebook.QuantizeCertified"/>): while a block's target stays
/// within it of the target last searched, the search cannot change its answer and is skipped. The remaining
/// searches of a group's <see cref="RowsPerGroup"/> rows go through the codebook together, so they still fill its
/// 16-lane batches. Results are those of searching every time.</para>
/// </remarks>
internal static class BlockLdlqSweeps
{
    private const int Block = BlockLdlq.Block;

    /// <summary>
    /// Rows swept together: four 16-lane search batches when every target moved, and one batch (instead of four
    /// mostly idle ones) when, as in later sweeps, a few in a hundred did. G's rows for a group take 64·n'·4 bytes.
    /// </summary>
    internal const int RowsPerGroup = 64;

    /// <summary>
    /// A skip needs the float δ² = Σ(t − t_last)² to be below r²·(1 − this): the computed δ² is within 2⁻²⁰ relative
    /// of the exact one (eight rounded differences and squares, one sum), so the exact δ stays below the radius r.
    /// </summary>
    private const float DistanceRounding = 1f / 65536;

    /// <param name="g">m×n' scratch that becomes G = E·H.</param>
    public static void Run(BlockLdlqState state, BlockLdlq.Factors f, int sweeps, float[] g, int threads)
    {
        int m = state.Rows, padded = f.Padded;
        Gemm.Multiply(Op.N, Op.N, m, padded, padded, 1f, state.Residual, padded, f.H, padded, 0f, g, padded, threads);
        Parallelism.For((m + RowsPerGroup - 1) / RowsPerGroup, threads,
            c => SweepGroup(state, f, sweeps, g, c * RowsPerGroup, Math.Min(RowsPerGroup, m - c * RowsPerGroup)));
    }

    private static void SweepGroup(BlockLdlqState state, BlockLdlq.Factors f, int sweeps, float[] g, int r0, int rows)
    {
        int padded = f.Padded, blocks = padded / Block;
        // Per block and row (block-major): the target last searched and its certified radius², −1 before any search.
        float[] lastTarget = ArrayPool<float>.Shared.Rent(blocks * rows * Block);
        float[] radiusSquared = ArrayPool<float>.Shared.Rent(blocks * rows);
        radiusSquared.AsSpan(0, blocks * rows).Fill(-1);
        Span<float> t = stackalloc float[RowsPerGroup * Block];
        Span<float> q = stackalloc float[RowsPerGroup * Block];
        Span<float> deltas = stackalloc float[RowsPerGroup * Block];
        Span<float> radii = stackalloc float[RowsPerGroup];
        Span<ushort> words = stackalloc ushort[RowsPerGroup * state.WordsPerVector];
        Span<int> searched = stackalloc int[RowsPerGroup];
        Span<float> qBlock = stackalloc float[Block];
        for (int s = 0; s < sweeps; s++)
            for (int j = blocks - 1; j >= 0; j--)
            {
                int c0 = j * Block, width = Math.Min(Block, state.Columns - c0), count = 0;
                for (int i = 0; i < rows; i++)
                {
                    int r = r0 + i;
                    qBlock.Clear();
                    state.Rounded.Row(r).Slice(c0, width).CopyTo(qBlock);
                    var target = t.Slice(count * Block, Block);
                    Target(qBlock, g.AsSpan(r * padded + c0, Block), f.DiagonalInverse[j], target);
                    int cached = j * rows + i;
                    float bound = radiusSquared[cached];
                    if (bound >= 0 && SquaredDistance(target, lastTarget.AsSpan(cached * Block, Block)) <= bound) continue;
                    searched[count++] = r;
                }
                if (count == 0) continue;

                // A partial last block is searched on its present coordinates, which the radius does not cover.
                bool full = width == Block;
                state.RoundBlock(j, searched[..count], t, deltas, q, words, full ? radii[..count] : default);
                for (int k = 0; k < count; k++)
                {
                    int r = searched[k], cached = j * rows + (r - r0);
                    if (full)
                    {
                        t.Slice(k * Block, Block).CopyTo(lastTarget.AsSpan(cached * Block, Block));
                        radiusSquared[cached] = radii[k] * radii[k] * (1 - DistanceRounding);
                    }
                    var gRow = g.AsSpan(r * padded, padded);
                    for (int c = 0; c < Block; c++)
                    {
                        float delta = deltas[k * Block + c];
                        if (delta != 0) TensorPrimitives.FusedMultiplyAdd(f.H.AsSpan((c0 + c) * padded, padded), -delta, gRow, gRow);
                    }
                }
            }
        ArrayPool<float>.Shared.Return(lastTarget);
        ArrayPool<float>.Shared.Return(radiusSquared);
    }

    /// <summary>Σ (a_i − b_i)² over an 8-vector.</summary>
    private static float SquaredDistance(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            var d = Vector256.Create(a[..Block]) - Vector256.Create(b[..Block]);
            return Vector256.Sum(d * d);
        }
        float sum = 0;
        for (int i = 0; i < Block; i++) sum += (a[i] - b[i]) * (a[i] - b[i]);
        return sum;
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
