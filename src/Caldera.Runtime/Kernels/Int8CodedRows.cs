using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Caldera.Runtime.Compression;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// The E8P rows of Q against an int8 activation (<see cref="Int8Activations"/>: u_i ≈ s_b·q_i):
///   y[r] = ¼ · Σ_b s_b · Σ_{v ∈ b} ⟨4·C[w_rv], q_v⟩        words: rows × ⌈n/8⌉,  q: ⌈n/8⌉·8 int8,  s: ⌈n/256⌉ floats
/// 4·C is an exact int8 vector (<see cref="E8PInt8Table"/>), so each block's inner sum is an exact int32 and the
/// only rounding is in the float sum over blocks, done in the same order on every path: every path gives the same
/// bits. The int8 path changes the result against <see cref="CodedRows.DotE8PRows(ReadOnlySpan{ushort}, ReadOnlySpan{float}, Span{float})"/>
/// only by the quantisation of u (see <see cref="Int8Activations"/> for the bound).
/// </summary>
/// <remarks>
/// vpdpbusd multiplies unsigned by signed bytes, so the vector paths feed it |4C| and sign(4C)·q (vpabsb, vpsignb;
/// |q| ≤ 127 so the sign flip is exact). Per four words: four 64-bit table loads, one load of q, abs, sign and one
/// vpdpbusd (32 multiply-adds) where the float path needs four decodes and four FMAs. Without AVX-VNNI the same
/// products go through vpmaddubsw (pairs of |4C|·q, at most 2·11·127 = 2794, never saturating) and vpmaddwd.
/// .NET 10 exposes vpdpbusd only on 128/256-bit registers, so there is no 512-bit path.
/// </remarks>
internal static class Int8CodedRows
{
    private const int D = E8PLattice.Dimension;
    private const int WordsPerBlock = Int8Activations.BlockLength / D;

    /// <summary>
    /// y[r] for y.Length consecutive E8P rows (see the type's formula); the row length is q's: ⌈n/8⌉ words per row
    /// meet the q.Length = ⌈n/8⌉·8 levels and the ⌈n/256⌉ scales of <see cref="Int8Activations.Quantize(ReadOnlySpan{float}, Span{sbyte}, Span{float})"/>.
    /// </summary>
    public static void DotE8PRows(ReadOnlySpan<ushort> words, ReadOnlySpan<sbyte> q, ReadOnlySpan<float> scales, Span<float> y) =>
        DotE8PRows(words, q, scales, y, Best);

    /// <summary>
    /// The implementation of the block sums. <see cref="Path.Vector128"/> is portable (<see cref="Vector128{T}"/> widening
    /// multiplies: NEON on Arm, SSE here, so tests run it on x86); <see cref="Path.ArmDotProduct"/> is Arm's SDOT
    /// (<see cref="Dp"/>, Armv8.2-A's optional dot product, standard from Armv8.4-A), which only Arm hardware or
    /// qemu-aarch64 runs. The x86 paths follow. <see cref="Path.Avx512Vbmi"/> needs only AVX-512 VBMI, BW and GFNI (its
    /// products are vpmaddubsw); where its shape does not fit it falls back to <see cref="Narrow"/>, so machines with
    /// AVX-512 VNNI but not the VEX AVX-VNNI (Ice Lake, Zen 4, some Zen 5 hosts: .NET 10 exposes no 512-bit vpdpbusd)
    /// still run it.
    /// </summary>
    internal enum Path { Scalar, Vector128, ArmDotProduct, Avx2, AvxVnni, Avx512Vbmi }

    /// <summary>The 256-bit x86 path: where <see cref="Path.Avx512Vbmi"/>'s register decode does not fit a shape, its kernels run this.
    /// Declared before <see cref="Best"/>, which reads it: static initializers run in textual order, so declared after
    /// it, <see cref="Best"/> would read Scalar on every machine without AVX-512 VBMI.</summary>
    internal static Path Narrow { get; } = AvxVnni.IsSupported ? Path.AvxVnni : Avx2.IsSupported ? Path.Avx2 : Path.Scalar;

    /// <summary>
    /// The fastest path this machine runs. The x86 paths work on 256-bit registers and take part only where the JIT
    /// accelerates that width, as <see cref="KernelPaths.Best"/>: with <c>DOTNET_PreferredVectorBitWidth=128</c> every
    /// kernel runs its portable path, which is how benchmarks/README.md times Arm's code on x86.
    /// </summary>
    internal static Path Best { get; } = !Vector256.IsHardwareAccelerated
        ? Dp.IsSupported ? Path.ArmDotProduct : Vector128.IsHardwareAccelerated ? Path.Vector128 : Path.Scalar
        : E8PNibbleDecode.IsSupported ? Path.Avx512Vbmi : Narrow;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void DotE8PRows(ReadOnlySpan<ushort> words, ReadOnlySpan<sbyte> q, ReadOnlySpan<float> scales, Span<float> y, Path path)
    {
        int perRow = q.Length / D;
        if (q.Length % D != 0 || scales.Length != Int8Activations.BlockCount(q.Length))
            throw new ArgumentException($"{q.Length} levels are not whole words with {Int8Activations.BlockCount(q.Length)} scales (got {scales.Length}).", nameof(q));
        if (words.Length != (long)perRow * y.Length)
            throw new ArgumentException($"{y.Length} rows of {perRow} words have {(long)perRow * y.Length} code words, got {words.Length}.", nameof(words));
        fixed (ulong* table = E8PInt8Table.Codewords)
        fixed (ushort* w = words)
        fixed (sbyte* x = q)
        fixed (float* s = scales)
        fixed (float* z = y)
        {
            if (path == Path.Avx512Vbmi)
            {
                // Whole blocks only (every real shape): the register decode runs 32-word blocks; other rows take 256 bits.
                if (perRow % WordsPerBlock == 0)
                {
                    RowsAvx512(w, y.Length, perRow / WordsPerBlock, x, s, z);
                    return;
                }
                path = Narrow;
            }
            for (int r = 0; r < y.Length; r++)
            {
                ushort* row = w + (long)r * perRow;
                float sum = 0;
                for (int b = 0; b < scales.Length; b++)
                {
                    int first = b * WordsPerBlock, count = Math.Min(WordsPerBlock, perRow - first);
                    int block = path switch
                    {
                        Path.AvxVnni => BlockVnni(table, row + first, x + first * D, count),
                        Path.Avx2 => BlockAvx2(table, row + first, x + first * D, count),
                        Path.ArmDotProduct => BlockArmDotProduct(table, row + first, x + first * D, count),
                        Path.Vector128 => BlockVector128(table, row + first, x + first * D, count),
                        _ => BlockScalar(table, row + first, x + first * D, count),
                    };
                    sum += s[b] * block;
                }
                y[r] = 0.25f * sum;
            }
        }
    }

    /// <summary>
    /// Rows of whole blocks through <see cref="E8PNibbleDecode"/>: the rows' words are one stream of blocks, decoded two
    /// blocks (64 words) per step whether or not they belong to one row, so a row of a single block (dim 256) still
    /// runs full steps. Each block's sum is corrected by −11·Σq_b and added to its row's float sum in block order, as
    /// the other paths do.
    /// </summary>
    private static unsafe void RowsAvx512(ushort* w, int rows, int blocksPerRow, sbyte* q, float* s, float* y)
    {
        int* offsets = stackalloc int[blocksPerRow];
        E8PNibbleDecode.BlockOffsets(q, blocksPerRow, offsets);
        if (PairedBlocks(blocksPerRow * Int8Activations.BlockLength))
        {
            RowsAvx512Paired(w, rows, blocksPerRow, q, s, y, offsets);
            return;
        }
        long blocks = (long)rows * blocksPerRow;
        int row = 0, block = 0;
        float sum = 0;
        for (long g = 0; g < blocks; g += 2)
        {
            ushort* first = w + g * WordsPerBlock;
            bool pair = g + 1 < blocks;
            int next = block + 1 == blocksPerRow ? 0 : block + 1;
            // The code words stream from memory: fetch them 1 KiB ahead (see BlockVnni).
            Sse.PrefetchNonTemporal(first + 512);
            var (a, b) = E8PNibbleDecode.TileSums(first, pair ? first + WordsPerBlock : first,
                q + block * Int8Activations.BlockLength, q + next * Int8Activations.BlockLength);
            sum += s[block] * (a - offsets[block]);
            if (next == 0)
            {
                y[row++] = 0.25f * sum;
                sum = 0;
            }
            if (!pair) break;
            sum += s[next] * (b - offsets[next]);
            block = next + 1;
            if (block == blocksPerRow)
            {
                y[row++] = 0.25f * sum;
                sum = 0;
                block = 0;
            }
        }
    }

    /// <summary>The most blocks per row whose coordinate-major levels <see cref="RowsAvx512Paired"/> keeps on the stack (64 KiB; rows up to 32768 wide).</summary>
    internal const int MaxPairedBlocks = 128;

    /// <summary>Whether rows of <paramref name="levels"/> levels are whole pairs of blocks, at most <see cref="MaxPairedBlocks"/>: the coordinate-major kernels' shape.</summary>
    internal static bool PairedBlocks(int levels) =>
        levels % (2 * Int8Activations.BlockLength) == 0 && levels / Int8Activations.BlockLength <= MaxPairedBlocks;

    /// <summary>
    /// Rows of an even number of blocks: every row is whole pairs of blocks, so each step's 64 words meet 512 levels
    /// that <see cref="E8PNibbleDecode.ToCoordinateMajor"/> laid out once per call for <see cref="E8PNibbleDecode.CoordinateSums"/>.
    /// </summary>
    private static unsafe void RowsAvx512Paired(ushort* w, int rows, int blocksPerRow, sbyte* q, float* s, float* y, int* offsets)
    {
        int pairs = blocksPerRow / 2, wordsPerRow = blocksPerRow * WordsPerBlock;
        byte* buffer = stackalloc byte[pairs * 2 * Int8Activations.BlockLength + 63];
        sbyte* qc = (sbyte*)(((nuint)buffer + 63) & ~(nuint)63);
        E8PNibbleDecode.ToCoordinateMajor(q, pairs, qc);
        for (int r = 0; r < rows; r++)
        {
            ushort* row = w + (long)r * wordsPerRow;
            float sum = 0;
            for (int t = 0; t < pairs; t++)
            {
                ushort* words = row + t * 2 * WordsPerBlock;
                // The code words stream from memory: fetch them 1 KiB ahead (see BlockVnni).
                Sse.PrefetchNonTemporal(words + 512);
                var (a, b) = E8PNibbleDecode.CoordinateSums(words, qc + t * 2 * Int8Activations.BlockLength);
                sum += s[2 * t] * (a - offsets[2 * t]);
                sum += s[2 * t + 1] * (b - offsets[2 * t + 1]);
            }
            y[r] = 0.25f * sum;
        }
    }

    /// <summary>Σ_v ⟨4·C[w_v], q_v⟩ over <paramref name="count"/> words, one product at a time: the reference.</summary>
    private static unsafe int BlockScalar(ulong* table, ushort* w, sbyte* x, int count)
    {
        int sum = 0;
        for (int v = 0; v < count; v++)
        {
            ulong codeword = table[w[v]];
            for (int i = 0; i < D; i++) sum += E8PInt8Table.Entry(codeword, i) * x[v * D + i];
        }
        return sum;
    }

    /// <summary>
    /// The four 64-bit codewords of the words at <paramref name="w"/>, as 32 signed bytes. Each index comes from its
    /// own zero-extending 16-bit load rather than being shifted out of one 64-bit load: the load ports do the
    /// extraction, so the loop issues fewer micro-ops per word (qpass probe 0.52 → 0.51 ns per word).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe Vector256<sbyte> Four(ulong* table, ushort* w) =>
        Vector256.Create(table[w[0]], table[w[1]], table[w[2]], table[w[3]]).AsSByte();

    /// <summary><see cref="BlockScalar"/> with vpdpbusd, eight words per step in two accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe int BlockVnni(ulong* table, ushort* w, sbyte* x, int count)
    {
        Vector256<int> a0 = default, a1 = default;
        // Fetch the words 1 KiB ahead: in the model the code words stream from memory and the hardware prefetcher
        // alone left the pass at 0.49 ns per word against 0.36 when they are cache-resident; with this, 0.41
        // (decode-profile qpass, streamed). Non-temporal and T0 hints measured the same; 256 words ahead was worse.
        // A prefetch past the end of the words is harmless: it never faults.
        Sse.PrefetchNonTemporal(w + 512);
        int v = 0;
        for (; v + 8 <= count; v += 8)
        {
            var c0 = Four(table, w + v);
            var c1 = Four(table, w + v + 4);
            a0 = AvxVnni.MultiplyWideningAndAdd(a0, Avx2.Abs(c0), Avx2.Sign(Vector256.Load(x + v * D), c0));
            a1 = AvxVnni.MultiplyWideningAndAdd(a1, Avx2.Abs(c1), Avx2.Sign(Vector256.Load(x + v * D + 32), c1));
        }
        for (; v + 4 <= count; v += 4)
        {
            var c = Four(table, w + v);
            a0 = AvxVnni.MultiplyWideningAndAdd(a0, Avx2.Abs(c), Avx2.Sign(Vector256.Load(x + v * D), c));
        }
        // BlockScalar is a call (the JIT does not inline it), made once per block: skipping it when the block has
        // no tail took the qpass probe from 0.51 to 0.37 ns per word. Only a row's last block can have a tail.
        int sum = Vector256.Sum(a0 + a1);
        return v < count ? sum + BlockScalar(table, w + v, x + v * D, count - v) : sum;
    }

    /// <summary><see cref="BlockScalar"/> with vpmaddubsw + vpmaddwd, for AVX2 machines without AVX-VNNI.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe int BlockAvx2(ulong* table, ushort* w, sbyte* x, int count)
    {
        var ones = Vector256.Create((short)1);
        Vector256<int> a0 = default;
        int v = 0;
        for (; v + 8 <= count; v += 8)
        {
            var c0 = Four(table, w + v);
            var c1 = Four(table, w + v + 4);
            var pairs = Avx2.MultiplyAddAdjacent(Avx2.Abs(c0), Avx2.Sign(Vector256.Load(x + v * D), c0))
                + Avx2.MultiplyAddAdjacent(Avx2.Abs(c1), Avx2.Sign(Vector256.Load(x + v * D + 32), c1));
            a0 += Avx2.MultiplyAddAdjacent(pairs, ones);
        }
        for (; v + 4 <= count; v += 4)
        {
            var c = Four(table, w + v);
            var pairs = Avx2.MultiplyAddAdjacent(Avx2.Abs(c), Avx2.Sign(Vector256.Load(x + v * D), c));
            a0 += Avx2.MultiplyAddAdjacent(pairs, ones);
        }
        int sum = Vector256.Sum(a0);
        return v < count ? sum + BlockScalar(table, w + v, x + v * D, count - v) : sum;
    }

    /// <summary>The two 64-bit codewords of the words at <paramref name="w"/>, as 16 signed bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe Vector128<sbyte> Two(ulong* table, ushort* w) => Vector128.Create(table[w[0]], table[w[1]]).AsSByte();

    /// <summary>
    /// <see cref="BlockScalar"/> with Arm's SDOT: signed bytes times signed bytes into int32 lanes, four products each,
    /// so no |4C| and sign(4C)·q split as vpdpbusd needs. Two words per SDOT, four words per step in two accumulators.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe int BlockArmDotProduct(ulong* table, ushort* w, sbyte* x, int count)
    {
        Vector128<int> a0 = default, a1 = default;
        int v = 0;
        for (; v + 4 <= count; v += 4)
        {
            a0 = Dp.DotProduct(a0, Two(table, w + v), Vector128.Load(x + v * D));
            a1 = Dp.DotProduct(a1, Two(table, w + v + 2), Vector128.Load(x + v * D + 16));
        }
        int sum = Vector128.Sum(a0 + a1);
        return v < count ? sum + BlockScalar(table, w + v, x + v * D, count - v) : sum;
    }

    /// <summary>
    /// <see cref="BlockScalar"/> with portable 128-bit vectors, for Arm cores without the dot product (Armv8.0-A:
    /// Cortex-A53, A72): both operands widen to int16 (sxtl), |4C·q| ≤ 11·127 = 1397, so the sum of two products
    /// (≤ 2794) is exact in int16 before it widens into the int32 accumulator. Two words per step.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe int BlockVector128(ulong* table, ushort* w, sbyte* x, int count)
    {
        Vector128<int> acc = default;
        int v = 0;
        for (; v + 2 <= count; v += 2)
            acc += PairProducts(Two(table, w + v), Vector128.Load(x + v * D));
        int sum = Vector128.Sum(acc);
        return v < count ? sum + BlockScalar(table, w + v, x + v * D, count - v) : sum;
    }

    /// <summary>
    /// Four int32 lanes whose sum is Σ c_i·q_i over 16 signed bytes, exact for |c|, |q| ≤ 127: a sum of two int16
    /// products is at most 2·127² = 32258 &lt; 2¹⁵ (here |c| ≤ 11; <see cref="Int8BlockRows"/> meets 127 on both sides).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<int> PairProducts(Vector128<sbyte> c, Vector128<sbyte> q)
    {
        var (cLow, cHigh) = Vector128.Widen(c);
        var (qLow, qHigh) = Vector128.Widen(q);
        var pairs = cLow * qLow + cHigh * qHigh;
        var (low, high) = Vector128.Widen(pairs);
        return low + high;
    }
}
