using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Caldera.Runtime.Compression;
using Caldera.CompilerServices;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// The L·t update of a decode step over all k ranks at once, for a segment of n output rows:
///   z[8v, 8v+8) += Σ_r a_r·(C[w₁ᵣᵥ] + C[w₂ᵣᵥ]/ρ)        r = 0..k−1 in order,  words: k rows of Lᵀ, row r at r·stride
/// (the same sums as one <see cref="CodedRows.AddResidual(ReadOnlySpan{ushort}, float, Span{float})"/> per rank).
/// </summary>
/// <remarks>
/// One axpy per rank reads and writes the whole segment k times. The vector path sweeps the segment once per four
/// ranks, applying all four to each vector of z in a register: a quarter of the loads and stores of z. (Holding a
/// tile of z across all k ranks instead is 1.47× faster when Lᵀ is cache-resident, but reads 64 strided streams that
/// the prefetchers do not follow when Lᵀ streams from memory, and decode got slower.) Each element gets the same FMA
/// per rank, in rank order, as the per-rank vector axpy, so the result is bit for bit that of one
/// <see cref="CodedRows.AddResidual(ReadOnlySpan{ushort}, float, Span{float})"/> per rank on the same path (generated
/// kernels, which keep that order, agree with it exactly). The scalar path is the reference (decode table,
/// sequential sums, no FMA), likewise equal to the scalar axpy per rank.
/// </remarks>
internal static class ResidualRanks
{
    private const int D = E8PLattice.Dimension;

    /// <summary>Ranks applied per sweep over the segment: z is read and written once per four ranks, from four sequential streams of words.</summary>
    private const int RanksPerSweep = 4;

    /// <summary>
    /// z += Σ_r a[r]·decode(row r) over a.Length rows of <paramref name="words"/>, row r's segment of
    /// 2·⌈z.Length/8⌉ words starting at r·<paramref name="rowStride"/>.
    /// </summary>
    public static void Add(ReadOnlySpan<ushort> words, int rowStride, ReadOnlySpan<float> a, Span<float> z) =>
        Add(words, rowStride, a, z, KernelPaths.Best);

    // Not inlined into its caller: there the JIT's inline budget ran out and Step became a call per vector and rank.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static void Add(ReadOnlySpan<ushort> words, int rowStride, ReadOnlySpan<float> a, Span<float> z, KernelPath path)
    {
        int count = E8PResidualLattice.WordCount(z.Length);
        if (rowStride < count)
            throw new ArgumentException($"a row stride of {rowStride} words is shorter than a segment of {count} words.", nameof(rowStride));
        if (a.Length > 0 && words.Length < (long)(a.Length - 1) * rowStride + count)
            throw new ArgumentException($"{a.Length} rows of stride {rowStride} with segments of {count} words need {(long)(a.Length - 1) * rowStride + count} words, got {words.Length}.", nameof(words));
        int full = path == KernelPath.Scalar ? 0 : z.Length / D, r = 0;
        if (path == KernelPath.Vector128)
        {
            AddVector128(words, rowStride, a, z, full);
            AddScalar(words, rowStride, a, z, full);
            return;
        }
        ref ushort w = ref MemoryMarshal.GetReference(words);
        ref float y = ref MemoryMarshal.GetReference(z);
        ref float patterns = ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.Patterns);
        ref float signs = ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.SignsAndShifts);
        for (; full > 0 && r + RanksPerSweep <= a.Length; r += RanksPerSweep)
        {
            ref ushort p0 = ref Unsafe.Add(ref w, (nint)r * rowStride);
            ref ushort p1 = ref Unsafe.Add(ref p0, rowStride);
            ref ushort p2 = ref Unsafe.Add(ref p1, rowStride);
            ref ushort p3 = ref Unsafe.Add(ref p2, rowStride);
            Vector256<float> a0 = Vector256.Create(a[r]), a1 = Vector256.Create(a[r + 1]), a2 = Vector256.Create(a[r + 2]), a3 = Vector256.Create(a[r + 3]);
            for (int v = 0; v < full; v++)
            {
                var zv = Vector256.LoadUnsafe(ref y, (nuint)(v * D));
                zv = Step(ref patterns, ref signs, ref p0, 2 * v, a0, zv);
                zv = Step(ref patterns, ref signs, ref p1, 2 * v, a1, zv);
                zv = Step(ref patterns, ref signs, ref p2, 2 * v, a2, zv);
                zv = Step(ref patterns, ref signs, ref p3, 2 * v, a3, zv);
                zv.StoreUnsafe(ref y, (nuint)(v * D));
            }
        }
        for (; full > 0 && r < a.Length; r++)
        {
            ref ushort p0 = ref Unsafe.Add(ref w, (nint)r * rowStride);
            var a0 = Vector256.Create(a[r]);
            for (int v = 0; v < full; v++)
                Step(ref patterns, ref signs, ref p0, 2 * v, a0, Vector256.LoadUnsafe(ref y, (nuint)(v * D))).StoreUnsafe(ref y, (nuint)(v * D));
        }
        AddScalar(words, rowStride, a, z, full);
    }

    /// <summary>
    /// The portable path (NEON on Arm) over the first <paramref name="full"/> vectors: the same sweeps of four ranks, each
    /// vector of z as two 128-bit halves, with the same FMA per rank in rank order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddVector128(ReadOnlySpan<ushort> words, int rowStride, ReadOnlySpan<float> a, Span<float> z, int full)
    {
        ref ushort w = ref MemoryMarshal.GetReference(words);
        ref float y = ref MemoryMarshal.GetReference(z);
        ref float patterns = ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.Patterns);
        ref float signs = ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.SignsAndShifts);
        int r = 0;
        for (; full > 0 && r + RanksPerSweep <= a.Length; r += RanksPerSweep)
        {
            ref ushort p0 = ref Unsafe.Add(ref w, (nint)r * rowStride);
            ref ushort p1 = ref Unsafe.Add(ref p0, rowStride);
            ref ushort p2 = ref Unsafe.Add(ref p1, rowStride);
            ref ushort p3 = ref Unsafe.Add(ref p2, rowStride);
            Vector128<float> a0 = Vector128.Create(a[r]), a1 = Vector128.Create(a[r + 1]), a2 = Vector128.Create(a[r + 2]), a3 = Vector128.Create(a[r + 3]);
            for (int v = 0; v < full; v++)
                for (nuint half = 0; half < 2; half++)
                {
                    nuint at = (nuint)(v * D) + half * CodedHalves.Width;
                    var zv = Vector128.LoadUnsafe(ref y, at);
                    zv = Step128(ref patterns, ref signs, ref p0, 2 * v, half, a0, zv);
                    zv = Step128(ref patterns, ref signs, ref p1, 2 * v, half, a1, zv);
                    zv = Step128(ref patterns, ref signs, ref p2, 2 * v, half, a2, zv);
                    zv = Step128(ref patterns, ref signs, ref p3, 2 * v, half, a3, zv);
                    zv.StoreUnsafe(ref y, at);
                }
        }
        for (; full > 0 && r < a.Length; r++)
        {
            ref ushort p0 = ref Unsafe.Add(ref w, (nint)r * rowStride);
            var a0 = Vector128.Create(a[r]);
            for (int v = 0; v < full; v++)
                for (nuint half = 0; half < 2; half++)
                {
                    nuint at = (nuint)(v * D) + half * CodedHalves.Width;
                    Step128(ref patterns, ref signs, ref p0, 2 * v, half, a0, Vector128.LoadUnsafe(ref y, at)).StoreUnsafe(ref y, at);
                }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Step128(ref float patterns, ref float signs, ref ushort pair, int offset, nuint half, Vector128<float> a, Vector128<float> z) =>
        Vector128.FusedMultiplyAdd(CodedHalves.Residual(ref patterns, ref signs, Unsafe.Add(ref pair, offset), Unsafe.Add(ref pair, offset + 1), half), a, z);

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
