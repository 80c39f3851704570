using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Caldera.Runtime.Compression;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// The L·t update of a decode step over all k ranks at once, for a segment of n output rows:
///   z[8v, 8v+8) += Σ_r a_r·(C[w₁ᵣᵥ] + C[w₂ᵣᵥ]/ρ)        r = 0..k−1 in order,  words: k rows of Lᵀ, row r at r·stride
/// (the same sums as one <see cref="CodedRows.AddResidual(ReadOnlySpan{ushort}, float, Span{float})"/> per rank).
/// </summary>
/// <remarks>
/// One axpy per rank reads and writes the whole segment k times. The vector path instead holds four vectors of z in
/// registers across all k ranks (the k rows' words for those 32 outputs are 16 contiguous bytes per rank) and stores
/// them once. Each element gets the same FMA per rank, in rank order, as the per-rank vector axpy, so the result is
/// bit for bit that of one <see cref="CodedRows.AddResidual(ReadOnlySpan{ushort}, float, Span{float})"/> per rank on
/// the same path (generated kernels, which keep that order, agree with it exactly). The scalar path is the reference
/// (decode table, sequential sums, no FMA), likewise equal to the scalar axpy per rank.
/// </remarks>
public static class ResidualRanks
{
    private const int D = E8PLattice.Dimension;

    /// <summary>Vectors of z held in registers across the ranks.</summary>
    private const int Tile = 4;

    /// <summary>
    /// z += Σ_r a[r]·decode(row r) over a.Length rows of <paramref name="words"/>, row r's segment of
    /// 2·⌈z.Length/8⌉ words starting at r·<paramref name="rowStride"/>.
    /// </summary>
    public static void Add(ReadOnlySpan<ushort> words, int rowStride, ReadOnlySpan<float> a, Span<float> z) =>
        Add(words, rowStride, a, z, KernelPaths.Best);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Add(ReadOnlySpan<ushort> words, int rowStride, ReadOnlySpan<float> a, Span<float> z, KernelPath path)
    {
        int count = E8PResidualLattice.WordCount(z.Length);
        if (rowStride < count)
            throw new ArgumentException($"a row stride of {rowStride} words is shorter than a segment of {count} words.", nameof(rowStride));
        if (a.Length > 0 && words.Length < (long)(a.Length - 1) * rowStride + count)
            throw new ArgumentException($"{a.Length} rows of stride {rowStride} with segments of {count} words need {(long)(a.Length - 1) * rowStride + count} words, got {words.Length}.", nameof(words));
        int full = path == KernelPath.Scalar ? 0 : z.Length / D, v = 0;
        ref ushort w = ref MemoryMarshal.GetReference(words);
        ref float y = ref MemoryMarshal.GetReference(z);
        ref float patterns = ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.Patterns);
        ref float signs = ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.SignsAndShifts);
        for (; v + Tile <= full; v += Tile)
        {
            var z0 = Vector256.LoadUnsafe(ref y, (nuint)(v * D));
            var z1 = Vector256.LoadUnsafe(ref y, (nuint)(v * D + D));
            var z2 = Vector256.LoadUnsafe(ref y, (nuint)(v * D + 2 * D));
            var z3 = Vector256.LoadUnsafe(ref y, (nuint)(v * D + 3 * D));
            for (int r = 0; r < a.Length; r++)
            {
                ref ushort p = ref Unsafe.Add(ref w, (nint)r * rowStride + 2 * v);
                var coefficient = Vector256.Create(a[r]);
                z0 = Step(ref patterns, ref signs, ref p, 0, coefficient, z0);
                z1 = Step(ref patterns, ref signs, ref p, 2, coefficient, z1);
                z2 = Step(ref patterns, ref signs, ref p, 4, coefficient, z2);
                z3 = Step(ref patterns, ref signs, ref p, 6, coefficient, z3);
            }
            z0.StoreUnsafe(ref y, (nuint)(v * D));
            z1.StoreUnsafe(ref y, (nuint)(v * D + D));
            z2.StoreUnsafe(ref y, (nuint)(v * D + 2 * D));
            z3.StoreUnsafe(ref y, (nuint)(v * D + 3 * D));
        }
        for (; v < full; v++)
        {
            var z0 = Vector256.LoadUnsafe(ref y, (nuint)(v * D));
            for (int r = 0; r < a.Length; r++)
                z0 = Step(ref patterns, ref signs, ref Unsafe.Add(ref w, (nint)r * rowStride + 2 * v), 0, Vector256.Create(a[r]), z0);
            z0.StoreUnsafe(ref y, (nuint)(v * D));
        }
        AddScalar(words, rowStride, a, z, v);
    }

    /// <summary>z + a·(C[w₁] + C[w₂]/ρ) for the word pair at <paramref name="offset"/>: one FMA, as <see cref="CodedRows.AddResidual(ReadOnlySpan{ushort}, float, Span{float})"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Step(ref float patterns, ref float signs, ref ushort pair, int offset, Vector256<float> a, Vector256<float> z) =>
        Vector256.FusedMultiplyAdd(CodedVectors.Residual(ref patterns, ref signs, Unsafe.Add(ref pair, offset), Unsafe.Add(ref pair, offset + 1)), a, z);

    /// <summary>The reference from vector <paramref name="start"/> on: z_i += a_r·(q₁ + q₂/ρ) from the decode table, rank by rank.</summary>
    private static void AddScalar(ReadOnlySpan<ushort> words, int rowStride, ReadOnlySpan<float> a, Span<float> z, int start)
    {
        ReadOnlySpan<float> table = E8PLattice.DecodeTable;
        for (int i = start * D; i < z.Length; i++)
        {
            int v = i / D, lane = i % D;
            float sum = z[i];
            for (int r = 0; r < a.Length; r++)
            {
                int pair = r * rowStride + 2 * v;
                sum += a[r] * (table[words[pair] * D + lane] + table[words[pair + 1] * D + lane] / E8PResidualLattice.ResidualScale);
            }
            z[i] = sum;
        }
    }
}
