using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Caldera.Runtime.Compression;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// The L·t update of an int8 decode step: with the k-vector a = t·s_L quantised once to a ≈ s_a·α (α int8, one scale),
///   z_i += ¼·s_a·(A_i + B_i/ρ),   A_i = Σ_r 4·C[w₁ᵣ]_i·α_r,   B_i = Σ_r 4·C[w₂ᵣ]_i·α_r
/// where (w₁ᵣ, w₂ᵣ) is the residual word pair that codes rows 8⌊i/8⌋.. of column r of L. A and B are exact int32 sums,
/// and the float combination is the same expression on every path, so every path gives the same bits.
/// </summary>
/// <remarks>
/// Lᵀ is coded along the rows of L (eight rows per word pair), so its words give L one rank at a time: an axpy per rank
/// (<see cref="ResidualRanks"/>) that decodes 2 words per 8 multiply-adds. Here the codes are expanded once, when
/// int8 decode is first used, into planes of U = 4·C + 11 laid out for vpdpbusd: per group of 8 rows and quad of 4
/// ranks, 32 bytes [row i: U_{i,4q..4q+3}]. 4·C is odd, so U is even, U/2 ∈ [0, 11] fits a nibble, and one byte holds
/// the entry's first word (low nibble, A) and second word (high nibble, B): 1 byte per entry of L instead of ½ coded
/// (the planes stream at memory speed, so half the bytes is what counts). An AND and a shift split a quad into A and
/// B, one vpdpbusd each adds four ranks to eight rows' int32 sums, and 16 of them cover rank 64: no decode and no
/// horizontal sums in the token's path. ΣU·α = 2·Σ(U/2)·α and the offset comes back as 11·Σα per sum. Ranks pad to a
/// multiple of 4 (their α is 0) and rows to a multiple of 8 (never written to z), so their nibbles are 0.
/// </remarks>
internal static class Int8LowRank
{
    /// <summary>Rows of L per group: one residual word pair's vector, one int32 lane each.</summary>
    public const int RowsPerGroup = 8;

    /// <summary>Ranks per vpdpbusd lane.</summary>
    public const int RanksPerQuad = 4;

    /// <summary>The largest rank with one scale for a (one block of <see cref="Int8Activations"/>).</summary>
    public const int MaxRank = Int8Activations.BlockLength;

    private const int QuadBytes = RowsPerGroup * RanksPerQuad;

    /// <summary>The low nibble of a plane byte: U/2 of the entry's first word (A); the high nibble is the second's (B).</summary>
    private const int NibbleMask = 0x0F;

    /// <summary>The low nibble of every byte lane of a ulong.</summary>
    private const ulong NibbleLanes = 0x0F0F0F0F0F0F0F0F;

    /// <summary>Ranks rounded up to whole quads: the length of α.</summary>
    public static int PaddedRank(int rank) => (rank + RanksPerQuad - 1) / RanksPerQuad * RanksPerQuad;

    /// <summary>Bytes of the planes of an L with <paramref name="rows"/> rows and <paramref name="rank"/> columns.</summary>
    public static long PlaneLength(int rows, int rank) =>
        (long)E8PLattice.VectorCount(rows) * (PaddedRank(rank) / RanksPerQuad) * QuadBytes;

    /// <summary>Expands Lᵀ's residual codes (<paramref name="rank"/> rows of 2·⌈rows/8⌉ words) into the planes.</summary>
    public static void Build(ReadOnlySpan<ushort> lTransposed, int rows, int rank, Span<byte> planes)
    {
        int groups = E8PLattice.VectorCount(rows), quads = PaddedRank(rank) / RanksPerQuad;
        int rowWords = E8PResidualLattice.WordCount(rows);
        if (lTransposed.Length != (long)rank * rowWords)
            throw new ArgumentException($"Lᵀ of {rank}×{rows} has {(long)rank * rowWords} words, got {lTransposed.Length}.", nameof(lTransposed));
        if (planes.Length != PlaneLength(rows, rank))
            throw new ArgumentException($"the planes of a {rows}×{rank} L take {PlaneLength(rows, rank)} bytes, got {planes.Length}.", nameof(planes));
        ulong[] table = E8PInt8Table.Codewords;
        // Each word pair is looked up once, and its eight plane bytes made at once, one byte lane per row; a quad's four
        // ranks are then interleaved row by row with byte shuffles. Every byte is written: padded ranks and rows are 0.
        // (This runs once per matrix, on its first int8 decode step.)
        Span<ulong> ranks = stackalloc ulong[RanksPerQuad];
        for (int g = 0; g < groups; g++)
        {
            int groupRows = Math.Min(RowsPerGroup, rows - g * RowsPerGroup);
            ulong rowMask = groupRows == RowsPerGroup ? ulong.MaxValue : (1UL << (8 * groupRows)) - 1;
            for (int k = 0; k < quads; k++)
            {
                for (int j = 0; j < RanksPerQuad; j++)
                {
                    int r = k * RanksPerQuad + j, pair = r * rowWords + 2 * g;
                    ranks[j] = r < rank ? (HalfLevels(table[lTransposed[pair]]) | HalfLevels(table[lTransposed[pair + 1]]) << 4) & rowMask : 0;
                }
                InterleaveRanks(ranks, planes.Slice((g * quads + k) * QuadBytes, QuadBytes));
            }
        }
    }

    /// <summary>Byte 4·i + j of <paramref name="quad"/> = byte i of <paramref name="ranks"/>[j]: four ranks' eight rows, row by row.</summary>
    private static void InterleaveRanks(ReadOnlySpan<ulong> ranks, Span<byte> quad)
    {
        // Two shuffles per half, each taking two of the ranks' bytes into their places (indices past 15 give 0).
        var first = Vector128.Create(ranks[0], ranks[1]).AsByte();
        var second = Vector128.Create(ranks[2], ranks[3]).AsByte();
        (Vector128.Shuffle(first, Vector128.Create((byte)0, 8, 99, 99, 1, 9, 99, 99, 2, 10, 99, 99, 3, 11, 99, 99)) |
            Vector128.Shuffle(second, Vector128.Create((byte)99, 99, 0, 8, 99, 99, 1, 9, 99, 99, 2, 10, 99, 99, 3, 11))).CopyTo(quad);
        (Vector128.Shuffle(first, Vector128.Create((byte)4, 12, 99, 99, 5, 13, 99, 99, 6, 14, 99, 99, 7, 15, 99, 99)) |
            Vector128.Shuffle(second, Vector128.Create((byte)99, 99, 4, 12, 99, 99, 5, 13, 99, 99, 6, 14, 99, 99, 7, 15))).CopyTo(quad[16..]);
    }

    /// <summary>Per byte lane, U/2 = (4·C + 11)/2 ∈ [0, 11] of a codeword's eight 4·C (odd, |4C| ≤ 11: U is even).</summary>
    /// <remarks>
    /// The 11 is added to the low seven bits, which cannot carry out of the lane (0x7F + 11 &lt; 0x100), and the sign bit
    /// is put back by XOR: the byte's own sum mod 256, which is U since 4C + 11 ≥ 0.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong HalfLevels(ulong codeword)
    {
        const ulong LowBits = 0x7F7F7F7F7F7F7F7F, Offsets = 0x0101010101010101 * (ulong)E8PNibbleDecode.Offset;
        ulong u = ((codeword & LowBits) + Offsets) ^ (codeword & ~LowBits);
        return u >> 1 & NibbleLanes;
    }

    /// <summary>
    /// α and s_a of <paramref name="a"/> (<see cref="Int8Activations"/>' rounding, one block): α has
    /// <see cref="PaddedRank"/> entries, zero past a.Length. Returns s_a.
    /// </summary>
    public static float Quantize(ReadOnlySpan<float> a, Span<sbyte> alpha)
    {
        if (a.Length > MaxRank) throw new ArgumentException($"rank {a.Length} exceeds {MaxRank}, the one-scale limit.", nameof(a));
        if (alpha.Length != PaddedRank(a.Length))
            throw new ArgumentException($"α of rank {a.Length} has {PaddedRank(a.Length)} entries, got {alpha.Length}.", nameof(alpha));
        Span<sbyte> levels = stackalloc sbyte[Int8Activations.PaddedLength(a.Length)];
        Span<float> scale = stackalloc float[1];
        Int8Activations.Quantize(a, levels, scale);
        levels[..alpha.Length].CopyTo(alpha);
        return scale[0];
    }

    /// <summary>
    /// z += L·a for the rows [8·<paramref name="firstGroup"/>, 8·firstGroup + z.Length) of L, a ≈ <paramref name="scale"/>·α
    /// (<see cref="Quantize"/>); <paramref name="planes"/> are the whole L's (<see cref="Build"/>).
    /// </summary>
    public static void Add(ReadOnlySpan<byte> planes, int firstGroup, ReadOnlySpan<sbyte> alpha, float scale, Span<float> z) =>
        Add(planes, firstGroup, alpha, scale, z, Int8CodedRows.Best);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void Add(ReadOnlySpan<byte> planes, int firstGroup, ReadOnlySpan<sbyte> alpha, float scale, Span<float> z, Int8CodedRows.Path path)
    {
        // x86: vpdpbusd where the machine has AVX-VNNI, else its exact equivalent vpmaddubsw + vpmaddwd (the pair sums
        // |U/2·α| ≤ 2·11·127 never saturate int16).
        bool x86 = (path is Int8CodedRows.Path.Avx2 or Int8CodedRows.Path.AvxVnni or Int8CodedRows.Path.Avx512Vbmi) && Avx2.IsSupported;
        bool vnni = x86 && path != Int8CodedRows.Path.Avx2 && AvxVnni.IsSupported;
        int quads = alpha.Length / RanksPerQuad, groups = E8PLattice.VectorCount(z.Length);
        if (alpha.Length % RanksPerQuad != 0 || alpha.Length > MaxRank)
            throw new ArgumentException($"α has {alpha.Length} entries, not whole quads of at most {MaxRank}.", nameof(alpha));
        long needed = (long)(firstGroup + groups) * quads * QuadBytes;
        if (firstGroup < 0 || planes.Length < needed)
            throw new ArgumentException($"rows from group {firstGroup} need {needed} bytes of planes, got {planes.Length}.", nameof(planes));
        int offset = 0;
        foreach (sbyte level in alpha) offset += level;
        offset *= E8PNibbleDecode.Offset;
        float half = 0.25f * scale;
        fixed (byte* p = planes)
        fixed (sbyte* x = alpha)
        fixed (float* y = z)
        {
            Span<int> a = stackalloc int[RowsPerGroup], b = stackalloc int[RowsPerGroup];
            for (int g = 0; g < groups; g++)
            {
                byte* group = p + (long)(firstGroup + g) * quads * QuadBytes;
                int rows = Math.Min(RowsPerGroup, z.Length - g * RowsPerGroup);
                float* target = y + g * RowsPerGroup;
                if (x86 && rows == RowsPerGroup)
                {
                    // Even and odd quads in separate accumulators: four vpdpbusd chains instead of two (exact integers,
                    // so the order of the sums does not matter); a group's 16 steps were one latency chain per half
                    // (in-process A/B on 5632 rows at rank 64: 9.0 → 7.7 µs).
                    Vector256<int> halfA = default, halfB = default, oddA = default, oddB = default;
                    var mask = Vector256.Create((byte)NibbleMask);
                    int k = 0;
                    for (; k + 1 < quads; k += 2)
                    {
                        var ranks = Vector256.Create(*(int*)(x + k * RanksPerQuad)).AsSByte();
                        var nextRanks = Vector256.Create(*(int*)(x + (k + 1) * RanksPerQuad)).AsSByte();
                        var packed = Vector256.Load(group + k * QuadBytes);
                        var next = Vector256.Load(group + (k + 1) * QuadBytes);
                        halfA = Dot4(halfA, vnni, packed & mask, ranks);
                        halfB = Dot4(halfB, vnni, Vector256.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & mask, ranks);
                        oddA = Dot4(oddA, vnni, next & mask, nextRanks);
                        oddB = Dot4(oddB, vnni, Vector256.ShiftRightLogical(next.AsUInt16(), 4).AsByte() & mask, nextRanks);
                    }
                    if (k < quads)
                    {
                        var ranks = Vector256.Create(*(int*)(x + k * RanksPerQuad)).AsSByte();
                        var packed = Vector256.Load(group + k * QuadBytes);
                        halfA = Dot4(halfA, vnni, packed & mask, ranks);
                        halfB = Dot4(halfB, vnni, Vector256.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & mask, ranks);
                    }
                    halfA += oddA;
                    halfB += oddB;
                    var bias = Vector256.Create(offset);
                    var update = Vector256.ConvertToSingle(halfA + halfA - bias) + Vector256.ConvertToSingle(halfB + halfB - bias) / E8PResidualLattice.ResidualScale;
                    (Vector256.Load(target) + Vector256.Create(half) * update).Store(target);
                    continue;
                }
                if (rows == RowsPerGroup && path is Int8CodedRows.Path.ArmDotProduct or Int8CodedRows.Path.Vector128)
                {
                    fixed (int* pa = a, pb = b)
                    {
                        if (path == Int8CodedRows.Path.ArmDotProduct) SumsArmDotProduct(group, x, quads, pa, pb);
                        else SumsVector128(group, x, quads, pa, pb);
                    }
                    for (int i = 0; i < rows; i++)
                        target[i] += half * ((float)(2 * a[i] - offset) + (float)(2 * b[i] - offset) / E8PResidualLattice.ResidualScale);
                    continue;
                }
                a.Clear();
                b.Clear();
                for (int k = 0; k < quads; k++)
                    for (int i = 0; i < RowsPerGroup; i++)
                        for (int j = 0; j < RanksPerQuad; j++)
                        {
                            int level = x[k * RanksPerQuad + j], packed = group[k * QuadBytes + i * RanksPerQuad + j];
                            a[i] += (packed & NibbleMask) * level;
                            b[i] += (packed >> 4) * level;
                        }
                for (int i = 0; i < rows; i++)
                    target[i] += half * ((float)(2 * a[i] - offset) + (float)(2 * b[i] - offset) / E8PResidualLattice.ResidualScale);
            }
        }
    }

    /// <summary>The most tokens <see cref="AddTokens"/> spreads α for on the stack at once (32 KiB at rank 256); a longer batch runs in slices.</summary>
    internal const int MaxTileTokens = 16;

    /// <summary>Quad pairs whose int16 products (a vpmaddubsw lane: two ranks, |Σ| ≤ 2·11·127 = 2794) add up in one int16 lane: 8·2794 = 22352 &lt; 2¹⁵.</summary>
    private const int PairsPerInt16Sum = 8;

    /// <summary>
    /// z[t·ldz + i] += L·a_t for <paramref name="tokens"/> tokens (α and scales token after token, as <see cref="Add(ReadOnlySpan{byte}, int, ReadOnlySpan{sbyte}, float, Span{float})"/>
    /// takes one) over the <paramref name="length"/> rows from group <paramref name="firstGroup"/>: bit for bit what
    /// <see cref="Add(ReadOnlySpan{byte}, int, ReadOnlySpan{sbyte}, float, Span{float})"/> gives each token alone.
    /// </summary>
    /// <remarks>
    /// On AVX-512 each group's nibbles are split once for all the tokens, and one vpmaddubsw takes two quads (eight rows
    /// × eight ranks; α of quad k in the low 256 bits, of k + 1 in the high); the int16 lanes add up over
    /// <see cref="PairsPerInt16Sum"/> quad pairs before one vpmaddwd widens them: at rank 64, 18 multiplier instructions
    /// per group and token where the one-token path takes 64 (32 vpdpbusd with AVX-VNNI). A and B are the same exact
    /// integers as there, and the float combination the same expression, so every token gets the same bits. Other
    /// paths run the one-token kernel per token.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void AddTokens(ReadOnlySpan<byte> planes, int firstGroup, ReadOnlySpan<sbyte> alpha, ReadOnlySpan<float> scales, int tokens,
        Span<float> z, int ldz, int length, Int8CodedRows.Path path)
    {
        if (tokens < 1) throw new ArgumentOutOfRangeException(nameof(tokens), tokens, "a batch has at least one token.");
        int paddedRank = alpha.Length / tokens;
        if (paddedRank * tokens != alpha.Length || scales.Length < tokens || ldz < length || z.Length < (long)(tokens - 1) * ldz + length)
            throw new ArgumentException($"{tokens} tokens of α ({alpha.Length} levels) and {scales.Length} scales into z with stride {ldz} do not fit {length} rows.", nameof(tokens));
        int quads = paddedRank / RanksPerQuad, groups = E8PLattice.VectorCount(length);
        if (path != Int8CodedRows.Path.Avx512Vbmi || !Avx512BW.IsSupported || tokens == 1 || quads % 2 != 0 || length % RowsPerGroup != 0)
        {
            for (int t = 0; t < tokens; t++)
                Add(planes, firstGroup, alpha.Slice(t * paddedRank, paddedRank), scales[t], z.Slice(t * ldz, length), path);
            return;
        }
        if (paddedRank % RanksPerQuad != 0 || paddedRank > MaxRank)
            throw new ArgumentException($"α has {paddedRank} entries per token, not whole quads of at most {MaxRank}.", nameof(alpha));
        if (tokens > MaxTileTokens)
        {
            for (int first = 0; first < tokens; first += MaxTileTokens)
            {
                int count = Math.Min(MaxTileTokens, tokens - first);
                AddTokens(planes, firstGroup, alpha.Slice(first * paddedRank, count * paddedRank), scales.Slice(first, count), count,
                    z.Slice(first * ldz, (count - 1) * ldz + length), ldz, length, path);
            }
            return;
        }
        long needed = (long)(firstGroup + groups) * quads * QuadBytes;
        if (firstGroup < 0 || planes.Length < needed)
            throw new ArgumentException($"rows from group {firstGroup} need {needed} bytes of planes, got {planes.Length}.", nameof(planes));
        int pairs = quads / 2;
        // Per token: α of quads k and k + 1 spread over the two 256-bit halves (64 bytes per pair), and its offset 11·Σα.
        var wideAlpha = stackalloc Vector512<sbyte>[tokens * pairs];
        var offsets = stackalloc int[tokens];
        // The group's nibbles split once: A (low) and B (high) of each quad pair.
        var low = stackalloc Vector512<byte>[pairs];
        var high = stackalloc Vector512<byte>[pairs];
        fixed (byte* p = planes)
        fixed (sbyte* x = alpha)
        fixed (float* y = z)
        {
            for (int t = 0; t < tokens; t++)
            {
                sbyte* a = x + (long)t * paddedRank;
                int offset = 0;
                for (int r = 0; r < paddedRank; r++) offset += a[r];
                offsets[t] = offset * E8PNibbleDecode.Offset;
                for (int k = 0; k < pairs; k++)
                    wideAlpha[t * pairs + k] = Vector512.Create(Vector256.Create(*(int*)(a + 2 * k * RanksPerQuad)), Vector256.Create(*(int*)(a + (2 * k + 1) * RanksPerQuad))).AsSByte();
            }
            var mask = Vector512.Create((byte)NibbleMask);
            for (int g = 0; g < groups; g++)
            {
                byte* group = p + (long)(firstGroup + g) * quads * QuadBytes;
                for (int k = 0; k < pairs; k++)
                {
                    var packed = Vector512.Load(group + k * 2 * QuadBytes);
                    low[k] = packed & mask;
                    high[k] = Avx512BW.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & mask;
                }
                for (int t = 0; t < tokens; t++)
                {
                    Vector512<sbyte>* a = wideAlpha + t * pairs;
                    Vector512<int> sumA = default, sumB = default;
                    for (int start = 0; start < pairs; start += PairsPerInt16Sum)
                    {
                        Vector512<short> shortA = default, shortB = default;
                        for (int k = start; k < Math.Min(pairs, start + PairsPerInt16Sum); k++)
                        {
                            shortA += Avx512BW.MultiplyAddAdjacent(low[k], a[k]);
                            shortB += Avx512BW.MultiplyAddAdjacent(high[k], a[k]);
                        }
                        sumA += Avx512BW.MultiplyAddAdjacent(shortA, Vector512<short>.One);
                        sumB += Avx512BW.MultiplyAddAdjacent(shortB, Vector512<short>.One);
                    }
                    // Rows in both halves: quad k's sums in the low 256 bits, k + 1's in the high.
                    var halfA = sumA.GetLower() + sumA.GetUpper();
                    var halfB = sumB.GetLower() + sumB.GetUpper();
                    var bias = Vector256.Create(offsets[t]);
                    float* target = y + (long)t * ldz + g * RowsPerGroup;
                    var update = Vector256.ConvertToSingle(halfA + halfA - bias) + Vector256.ConvertToSingle(halfB + halfB - bias) / E8PResidualLattice.ResidualScale;
                    (Vector256.Load(target) + Vector256.Create(0.25f * scales[t]) * update).Store(target);
                }
            }
        }
    }

    /// <summary>acc + the four-byte dot products of u (unsigned) and r (signed) per int32 lane: vpdpbusd, or vpmaddubsw and vpmaddwd.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Dot4(Vector256<int> acc, bool vnni, Vector256<byte> u, Vector256<sbyte> r) =>
        vnni ? AvxVnni.MultiplyWideningAndAdd(acc, u, r) : acc + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, r), Vector256<short>.One);

    /// <summary>
    /// A and B of one group of eight rows with Arm's SDOT: a quad is rows 0–3 and rows 4–7 (16 bytes each, four ranks per
    /// row), and one SDOT of the nibbles with the quad's four α (broadcast) adds four ranks to four rows' int32 sums.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void SumsArmDotProduct(byte* group, sbyte* x, int quads, int* a, int* b)
    {
        var mask = Vector128.Create((byte)NibbleMask);
        Vector128<int> a0 = default, a1 = default, b0 = default, b1 = default;
        for (int k = 0; k < quads; k++)
        {
            var ranks = Vector128.Create(*(int*)(x + k * RanksPerQuad)).AsSByte();
            var low = Vector128.Load(group + k * QuadBytes);
            var high = Vector128.Load(group + k * QuadBytes + 16);
            a0 = Dp.DotProduct(a0, (low & mask).AsSByte(), ranks);
            a1 = Dp.DotProduct(a1, (high & mask).AsSByte(), ranks);
            b0 = Dp.DotProduct(b0, Vector128.ShiftRightLogical(low, 4).AsSByte(), ranks);
            b1 = Dp.DotProduct(b1, Vector128.ShiftRightLogical(high, 4).AsSByte(), ranks);
        }
        a0.Store(a);
        a1.Store(a + 4);
        b0.Store(b);
        b1.Store(b + 4);
    }

    /// <summary>Quads whose int16 products (|U/2·α| ≤ 11·127 = 1397) may add up in one int16 lane: 16·1397 = 22352 &lt; 2¹⁵.</summary>
    private const int QuadsPerInt16Sum = 16;

    /// <summary>
    /// A and B of one group with portable 128-bit vectors (Arm cores without SDOT): the nibbles and the four α widen to
    /// int16, their products add up lane by lane (one lane per row and rank) for up to <see cref="QuadsPerInt16Sum"/>
    /// quads, and then each row's four lanes go into its int32 sum. Exact, like every path.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void SumsVector128(byte* group, sbyte* x, int quads, int* a, int* b)
    {
        var mask = Vector128.Create((byte)NibbleMask);
        for (int i = 0; i < RowsPerGroup; i++) a[i] = b[i] = 0;
        for (int start = 0; start < quads; start += QuadsPerInt16Sum)
        {
            // Lanes of a01: rows 0 and 1 × ranks 0–3; a23 rows 2–3; and so on.
            Vector128<short> a01 = default, a23 = default, a45 = default, a67 = default;
            Vector128<short> b01 = default, b23 = default, b45 = default, b67 = default;
            for (int k = start; k < Math.Min(quads, start + QuadsPerInt16Sum); k++)
            {
                var ranks = Vector128.WidenLower(Vector128.Create(*(int*)(x + k * RanksPerQuad)).AsSByte());
                var low = Vector128.Load(group + k * QuadBytes);
                var high = Vector128.Load(group + k * QuadBytes + 16);
                var (u01, u23) = Vector128.Widen(low & mask);
                var (u45, u67) = Vector128.Widen(high & mask);
                var (v01, v23) = Vector128.Widen(Vector128.ShiftRightLogical(low, 4));
                var (v45, v67) = Vector128.Widen(Vector128.ShiftRightLogical(high, 4));
                a01 += u01.AsInt16() * ranks;
                a23 += u23.AsInt16() * ranks;
                a45 += u45.AsInt16() * ranks;
                a67 += u67.AsInt16() * ranks;
                b01 += v01.AsInt16() * ranks;
                b23 += v23.AsInt16() * ranks;
                b45 += v45.AsInt16() * ranks;
                b67 += v67.AsInt16() * ranks;
            }
            AddRowPair(a01, a);
            AddRowPair(a23, a + 2);
            AddRowPair(a45, a + 4);
            AddRowPair(a67, a + 6);
            AddRowPair(b01, b);
            AddRowPair(b23, b + 2);
            AddRowPair(b45, b + 4);
            AddRowPair(b67, b + 6);
        }
    }

    /// <summary>sums[0] += Σ lanes 0–3, sums[1] += Σ lanes 4–7 of <paramref name="pair"/> (two rows' four ranks each).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void AddRowPair(Vector128<short> pair, int* sums)
    {
        var (first, second) = Vector128.Widen(pair);
        sums[0] += Vector128.Sum(first);
        sums[1] += Vector128.Sum(second);
    }
}
