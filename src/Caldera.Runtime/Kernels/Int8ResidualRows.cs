using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using Caldera.Runtime.Compression;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// Rows of a 4-bit residual factor (R) against an int8 activation (<see cref="Int8Activations"/>: u_i ≈ s_b·q_i):
///   t[r] = ¼ · Σ_b s_b · (A_rb + B_rb/ρ),   A_rb = Σ_{v ∈ b} ⟨4·C[w₁ᵣᵥ], q_v⟩,  B_rb = Σ_{v ∈ b} ⟨4·C[w₂ᵣᵥ], q_v⟩
///   words: rows × 2·⌈n/8⌉ (word pairs q₁, q₂ of x̂ = q₁ + q₂/ρ),  q: ⌈n/8⌉·8 int8,  s: ⌈n/256⌉ floats
/// A and B are exact int32 sums (<see cref="E8PInt8Table"/>), and the float combination runs in the same order on
/// every path, so every path gives the same bits; against <see cref="CodedRows.DotResidual(ReadOnlySpan{ushort}, ReadOnlySpan{float})"/>
/// the result differs only by the quantisation of u.
/// </summary>
/// <remarks>
/// The float kernel decodes both words of a pair (six table loads) and divides by ρ for every 8 weights; here one
/// vpdpbusd covers two word pairs: the four codewords [C(w₁ᵥ), C(w₂ᵥ), C(w₁ᵥ₊₁), C(w₂ᵥ₊₁)] meet [q_v, q_v, q_v+1, q_v+1]
/// (one 16-byte load of q, vpermq), so int32 lanes 0, 1, 4, 5 accumulate A and lanes 2, 3, 6, 7 accumulate B.
/// AVX2 machines without AVX-VNNI run the portable 128-bit path (R is an eighth of Q's words); AVX-512 VBMI machines
/// run the register decode of <see cref="E8PNibbleDecode"/>, with or without VNNI. On Arm one word pair [C(w₁ᵥ), C(w₂ᵥ)]
/// meets [q_v, q_v] in one SDOT (lanes 0–1 accumulate A, 2–3 B), or in the portable path's widening multiplies.
/// </remarks>
internal static class Int8ResidualRows
{
    private const int D = E8PLattice.Dimension;
    private const int VectorsPerBlock = Int8Activations.BlockLength / D;

    /// <summary>t[r] for t.Length consecutive residual rows (see the type's formula); rows have ⌈n/8⌉ word pairs for q.Length = ⌈n/8⌉·8.</summary>
    public static void DotRows(ReadOnlySpan<ushort> words, ReadOnlySpan<sbyte> q, ReadOnlySpan<float> scales, Span<float> t) =>
        DotRows(words, q, scales, t, Int8CodedRows.Best);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void DotRows(ReadOnlySpan<ushort> words, ReadOnlySpan<sbyte> q, ReadOnlySpan<float> scales, Span<float> t, Int8CodedRows.Path path)
    {
        int vectors = q.Length / D, perRow = E8PResidualLattice.WordsPerVector * vectors;
        if (q.Length % D != 0 || scales.Length != Int8Activations.BlockCount(q.Length))
            throw new ArgumentException($"{q.Length} levels are not whole vectors with {Int8Activations.BlockCount(q.Length)} scales (got {scales.Length}).", nameof(q));
        if (words.Length != (long)perRow * t.Length)
            throw new ArgumentException($"{t.Length} rows of {perRow} words have {(long)perRow * t.Length} code words, got {words.Length}.", nameof(words));
        if (path == Int8CodedRows.Path.Avx512Vbmi && vectors % VectorsPerBlock != 0) path = Int8CodedRows.Narrow;
        bool vnni = path == Int8CodedRows.Path.AvxVnni;
        fixed (ulong* table = E8PInt8Table.Codewords)
        fixed (ushort* w = words)
        fixed (sbyte* x = q)
        fixed (float* s = scales)
        {
            // Whole blocks only (every real shape): the register decode takes a block's 32 word pairs in one step.
            if (path == Int8CodedRows.Path.Avx512Vbmi && vectors % VectorsPerBlock == 0)
            {
                RowsAvx512(w, t.Length, perRow, x, s, scales.Length, t);
                return;
            }
            for (int r = 0; r < t.Length; r++)
            {
                ushort* row = w + (long)r * perRow;
                float sum = 0;
                for (int b = 0; b < scales.Length; b++)
                {
                    int first = b * VectorsPerBlock, count = Math.Min(VectorsPerBlock, vectors - first);
                    var (a, c) = vnni ? BlockVnni(table, row + 2 * first, x + first * D, count)
                        : path == Int8CodedRows.Path.ArmDotProduct ? BlockArmDotProduct(table, row + 2 * first, x + first * D, count)
                        : path is Int8CodedRows.Path.Vector128 or Int8CodedRows.Path.Avx2 ? BlockVector128(table, row + 2 * first, x + first * D, count)
                        : BlockScalar(table, row + 2 * first, x + first * D, count);
                    sum += s[b] * (a + c / E8PResidualLattice.ResidualScale);
                }
                t[r] = 0.25f * sum;
            }
        }
    }

    /// <summary>
    /// The rows against <paramref name="tokens"/> inputs: t[k·ldt + r] is bit for bit what <see cref="DotRows(ReadOnlySpan{ushort}, ReadOnlySpan{sbyte}, ReadOnlySpan{float}, Span{float})"/>
    /// gives token k. <paramref name="q"/> and <paramref name="scales"/> hold the tokens' levels and scales token after
    /// token, <paramref name="coordinateMajor"/> the same levels as <see cref="E8PNibbleDecode.ToCoordinateMajor"/> lays
    /// them out (read only where rows are whole pairs of blocks on the AVX-512 path: there each block of a row is decoded
    /// once, <see cref="E8PNibbleDecode.DecodeResidualCoordinateMajor"/>, for all tokens; elsewhere the one-token kernel
    /// runs per token).
    /// </summary>
    private const int MaxBatchOffsets = 4096;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void DotRowsTokens(ReadOnlySpan<ushort> words, int rows, ReadOnlySpan<sbyte> q, ReadOnlySpan<sbyte> coordinateMajor,
        ReadOnlySpan<float> scales, int tokens, Span<float> t, int ldt, Int8CodedRows.Path path)
    {
        if (tokens < 1) throw new ArgumentOutOfRangeException(nameof(tokens), tokens, "a batch has at least one token.");
        int levels = q.Length / tokens, blocks = scales.Length / tokens;
        if (levels * tokens != q.Length || blocks * tokens != scales.Length || ldt < rows || t.Length < (long)(tokens - 1) * ldt + rows)
            throw new ArgumentException($"{tokens} tokens of {levels} levels and {blocks} scales into t with stride {ldt} do not fit {rows} rows.", nameof(tokens));
        int vectors = levels / D, perRow = E8PResidualLattice.WordsPerVector * vectors;
        // The batch's block offsets and their lane copies live on the stack (with a row's decoded blocks, at most 16 + 80 + 64 KB:
        // tokens·blocks ≤ MaxBatchOffsets, blocks ≤ 128): past MaxBatchOffsets (e.g. 32 tokens of 32768 levels) it runs token by token.
        if (path != Int8CodedRows.Path.Avx512Vbmi || tokens == 1 || vectors % VectorsPerBlock != 0 || !Int8CodedRows.PairedBlocks(levels)
            || (long)tokens * blocks > MaxBatchOffsets)
        {
            for (int k = 0; k < tokens; k++)
                DotRows(words, q.Slice(k * levels, levels), scales.Slice(k * blocks, blocks), t.Slice(k * ldt, rows), path);
            return;
        }
        if (words.Length != (long)rows * perRow || coordinateMajor.Length < q.Length)
            throw new ArgumentException($"{rows} rows of {perRow} words and {tokens} coordinate-major tokens do not match {words.Length} words and {coordinateMajor.Length} levels.", nameof(words));
        const int BlockBytes = 512;
        int groups = (tokens + TokenGroup - 1) / TokenGroup;
        byte* buffer = stackalloc byte[blocks * BlockBytes + 63];
        byte* u = (byte*)(((nuint)buffer + 63) & ~(nuint)63);
        int* o = stackalloc int[tokens * blocks];
        // Per group of eight tokens and block: 11·Σq and s in the lanes where BlockSums puts that token's A and B.
        int* laneOffsets = stackalloc int[groups * blocks * Lanes];
        float* laneScales = stackalloc float[groups * blocks * Lanes];
        fixed (ushort* w = words)
        fixed (sbyte* x = q, qc = coordinateMajor)
        fixed (float* s = scales, y = t)
        {
            for (int k = 0; k < tokens; k++) E8PNibbleDecode.BlockOffsets(x + (long)k * levels, blocks, o + k * blocks);
            int* first = stackalloc int[Lanes];
            for (int g = 0; g < groups; g++)
            {
                for (int lane = 0; lane < Lanes; lane++) first[lane] = Token(g, TokenOfLane(lane)) * blocks;
                for (int b = 0; b < blocks; b++)
                {
                    int* offsets = laneOffsets + (g * blocks + b) * Lanes;
                    float* factors = laneScales + (g * blocks + b) * Lanes;
                    for (int lane = 0; lane < Lanes; lane++)
                    {
                        offsets[lane] = o[first[lane] + b];
                        factors[lane] = s[first[lane] + b];
                    }
                }
            }
            var quarter = Vector512.Create(0.25f);
            for (int r = 0; r < rows; r++)
            {
                ushort* row = w + (long)r * perRow;
                for (int b = 0; b < blocks; b++) E8PNibbleDecode.DecodeResidualCoordinateMajor(row + 2 * b * VectorsPerBlock, u + b * BlockBytes);
                for (int g = 0; g < groups; g++)
                {
                    // The group's eight tokens (only real tokens are stored).
                    sbyte* q0 = qc + (long)Token(g, 0) * levels, q1 = qc + (long)Token(g, 1) * levels, q2 = qc + (long)Token(g, 2) * levels;
                    sbyte* q3 = qc + (long)Token(g, 3) * levels, q4 = qc + (long)Token(g, 4) * levels, q5 = qc + (long)Token(g, 5) * levels;
                    sbyte* q6 = qc + (long)Token(g, 6) * levels, q7 = qc + (long)Token(g, 7) * levels;
                    var sums = Vector512<float>.Zero;
                    for (int b = 0; b < blocks; b++)
                    {
                        // As RowsAvx512: block b's levels are half b % 2 of pair b / 2.
                        int at = b / 2 * 2 * Int8Activations.BlockLength + b % 2 * VectorsPerBlock, index = (g * blocks + b) * Lanes;
                        byte* decoded = u + b * BlockBytes;
                        var ab = Int8CodedTile.BlockSums(
                            E8PNibbleDecode.DecodedResidualProducts(decoded, q0 + at), E8PNibbleDecode.DecodedResidualProducts(decoded, q1 + at),
                            E8PNibbleDecode.DecodedResidualProducts(decoded, q2 + at), E8PNibbleDecode.DecodedResidualProducts(decoded, q3 + at),
                            E8PNibbleDecode.DecodedResidualProducts(decoded, q4 + at), E8PNibbleDecode.DecodedResidualProducts(decoded, q5 + at),
                            E8PNibbleDecode.DecodedResidualProducts(decoded, q6 + at), E8PNibbleDecode.DecodedResidualProducts(decoded, q7 + at));
                        // a = A − 11Σq in the A lanes, c = B − 11Σq moved onto them; sum += s·(a + c/ρ), as the one-token path.
                        var a = Vector512.ConvertToSingle(ab - Vector512.Load(laneOffsets + index));
                        var c = Avx512F.Shuffle4x128(a, a, 0b11_11_01_01);
                        sums += Vector512.Load(laneScales + index) * (a + c / E8PResidualLattice.ResidualScale);
                    }
                    sums *= quarter;
                    for (int i = 0; i < TokenGroup && g * TokenGroup + i < tokens; i++)
                        y[(long)(g * TokenGroup + i) * ldt + r] = sums.GetElement(LaneOfToken(i));
                }
            }
        }

        // Token i of group g; a short last group repeats the batch's last token.
        int Token(int g, int i) => Math.Min(tokens - 1, g * TokenGroup + i);
    }

    /// <summary>Tokens whose R·u one <see cref="Int8CodedTile.BlockSums"/> reduces together (their A and B: sixteen lanes).</summary>
    private const int TokenGroup = 8;

    private const int Lanes = 16;

    // BlockSums puts product i = 2g + h's A sum in lane 4·2h + g and its B sum four lanes up (4·(2h + 1) + g): the A lane
    // of token i, and the token of any lane (g = lane mod 4, h = lane / 8).
    private static int LaneOfToken(int i) => 8 * (i % 2) + i / 2;

    private static int TokenOfLane(int lane) => 2 * (lane % 4) + lane / 8;

    /// <summary>
    /// Rows of whole blocks through <see cref="E8PNibbleDecode.ResidualCoordinateSums"/> (rows of whole block pairs) or
    /// <see cref="E8PNibbleDecode.PairSums"/>: A and B of a block come out of one step,
    /// each less 11·Σq_b (the decode's offset), and combine in the same float order as the other paths.
    /// </summary>
    private static unsafe void RowsAvx512(ushort* w, int rows, int perRow, sbyte* x, float* s, int blocks, Span<float> t)
    {
        int* offsets = stackalloc int[blocks];
        E8PNibbleDecode.BlockOffsets(x, blocks, offsets);
        // Rows of whole block pairs meet the levels in coordinate-major order (one vpermb per coordinate, no spread).
        bool paired = Int8CodedRows.PairedBlocks(blocks * Int8Activations.BlockLength);
        byte* buffer = stackalloc byte[paired ? blocks * Int8Activations.BlockLength + 63 : 0];
        sbyte* qc = (sbyte*)(((nuint)buffer + 63) & ~(nuint)63);
        if (paired) E8PNibbleDecode.ToCoordinateMajor(x, blocks / 2, qc);
        for (int r = 0; r < rows; r++)
        {
            ushort* row = w + (long)r * perRow;
            float sum = 0;
            for (int b = 0; b < blocks; b++)
            {
                // Block b's levels are half b % 2 of pair b / 2.
                var (a, c) = paired
                    ? E8PNibbleDecode.ResidualCoordinateSums(row + 2 * b * VectorsPerBlock, qc + b / 2 * 2 * Int8Activations.BlockLength + b % 2 * VectorsPerBlock)
                    : E8PNibbleDecode.PairSums(row + 2 * b * VectorsPerBlock, x + b * Int8Activations.BlockLength);
                a -= offsets[b];
                c -= offsets[b];
                sum += s[b] * (a + c / E8PResidualLattice.ResidualScale);
            }
            t[r] = 0.25f * sum;
        }
    }

    /// <summary>(A, B) over <paramref name="count"/> word pairs, one product at a time: the reference.</summary>
    private static unsafe (int A, int B) BlockScalar(ulong* table, ushort* w, sbyte* x, int count)
    {
        int a = 0, b = 0;
        for (int v = 0; v < count; v++)
        {
            ulong first = table[w[2 * v]], second = table[w[2 * v + 1]];
            for (int i = 0; i < D; i++)
            {
                a += E8PInt8Table.Entry(first, i) * x[v * D + i];
                b += E8PInt8Table.Entry(second, i) * x[v * D + i];
            }
        }
        return (a, b);
    }

    /// <summary><see cref="BlockScalar"/> with vpdpbusd, two word pairs per step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe (int A, int B) BlockVnni(ulong* table, ushort* w, sbyte* x, int count)
    {
        Vector256<int> acc = default;
        int v = 0;
        for (; v + 2 <= count; v += 2)
        {
            var c = Int8CodedRows.Four(table, w + 2 * v);
            var pair = Avx2.Permute4x64(Vector128.Load((ulong*)(x + v * D)).ToVector256Unsafe(), 0b01_01_00_00).AsSByte();
            acc = AvxVnni.MultiplyWideningAndAdd(acc, Avx2.Abs(c), Avx2.Sign(pair, c));
        }
        var firstLanes = Vector256.Create(-1, -1, 0, 0, -1, -1, 0, 0);
        int a = Vector256.Sum(acc & firstLanes), b = Vector256.Sum(acc) - a;
        if (v == count) return (a, b); // skip the call (see Int8CodedRows.BlockVnni)
        var (ta, tb) = BlockScalar(table, w + 2 * v, x + v * D, count - v);
        return (a + ta, b + tb);
    }

    /// <summary><see cref="BlockScalar"/> with Arm's SDOT, one word pair per step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe (int A, int B) BlockArmDotProduct(ulong* table, ushort* w, sbyte* x, int count)
    {
        Vector128<int> acc = default;
        for (int v = 0; v < count; v++)
            acc = Dp.DotProduct(acc, Int8CodedRows.Two(table, w + 2 * v), Vector128.Create(*(ulong*)(x + v * D)).AsSByte());
        int a = acc.GetElement(0) + acc.GetElement(1);
        return (a, Vector128.Sum(acc) - a);
    }

    /// <summary><see cref="BlockScalar"/> with portable 128-bit widening multiplies (see <see cref="Int8CodedRows"/>' Vector128 path).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe (int A, int B) BlockVector128(ulong* table, ushort* w, sbyte* x, int count)
    {
        Vector128<int> a = default, b = default;
        for (int v = 0; v < count; v++)
        {
            var (first, second) = Vector128.Widen(Int8CodedRows.Two(table, w + 2 * v));
            var q = Vector128.WidenLower(Vector128.CreateScalar(*(ulong*)(x + v * D)).AsSByte());
            var (a0, a1) = Vector128.Widen(first * q);
            var (b0, b1) = Vector128.Widen(second * q);
            a += a0 + a1;
            b += b0 + b1;
        }
        return (Vector128.Sum(a), Vector128.Sum(b));
    }
}
