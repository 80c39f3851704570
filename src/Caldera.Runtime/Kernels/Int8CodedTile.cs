using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Caldera.Runtime.Compression;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// The int8 Q pass of <see cref="Int8CodedRows"/> for a batch of tokens (prefill): for every token t and row r,
///   y[t·ldy + r] = ¼ · Σ_b s_tb · Σ_{v ∈ b} ⟨4·C[w_rv], q_tv⟩,
/// bit for bit what <see cref="Int8CodedRows.DotE8PRows(ReadOnlySpan{ushort}, ReadOnlySpan{sbyte}, ReadOnlySpan{float}, Span{float})"/>
/// gives each token alone, so a prompt's tokens see the same Q·u in prefill as in decode.
/// </summary>
/// <remarks>
/// <para>The register path decodes each row once into U/2 = (4·C + 11)/2 in coordinate-major order (<see cref="E8PNibbleDecode.DecodeHalvedCoordinateMajor"/>)
/// and meets every token's levels, laid out the same way (<see cref="E8PNibbleDecode.ToCoordinateMajor"/>), in a tile of
/// <see cref="TileRows"/> rows × <see cref="TileTokens"/> tokens: per pair of blocks and (row, token), eight vpmaddubsw
/// (512 multiply-adds) and one vpmaddwd where the float prefill needs 32 FMAs. The int32 lanes of the tile's eight (row, token) products
/// are reduced to their sixteen block sums together (one shuffle tree), doubled, corrected by 11·Σq, scaled and added to
/// each (row, token)'s float sum in block order, as the one-token path does.</para>
/// <para>Rows of an odd number of blocks, rows wider than <see cref="Int8CodedRows.MaxPairedBlocks"/> blocks and
/// machines without AVX-512 VBMI run the one-token path per token.</para>
/// </remarks>
internal static class Int8CodedTile
{
    private const int D = E8PLattice.Dimension;
    private const int PairLevels = 2 * Int8Activations.BlockLength;
    private const int PairWords = PairLevels / D;

    /// <summary>Rows of one register tile (each row's 512 U bytes per pair of blocks are loaded once per token pair).</summary>
    public const int TileRows = 4;

    /// <summary>Tokens of one register tile: 4 × 2 (row, token) products fill one 16-lane reduction tree.</summary>
    public const int TileTokens = 2;

    /// <summary>Whether <paramref name="columns"/>-wide rows take the register tile on <paramref name="path"/> (otherwise the one-token path per token).</summary>
    internal static bool Tiled(int columns, Int8CodedRows.Path path) =>
        path == Int8CodedRows.Path.Avx512Vbmi && Int8CodedRows.PairedBlocks(columns);

    /// <summary>Bytes of <c>scratch</c> the batch needs: the tile's decoded rows and each token pair's offsets and scales per pair of blocks.</summary>
    public static int ScratchLength(int columns, int tokens) =>
        (columns / D * D + PairLevels - 1) / PairLevels * (TileRows * PairLevels + (tokens + 1) / TileTokens * 2 * Vector512<byte>.Count) + 64;

    /// <summary>One token's levels (a whole number of block pairs) in the coordinate-major order the register tile reads.</summary>
    internal static unsafe void LayOut(ReadOnlySpan<sbyte> q, Span<sbyte> coordinateMajor)
    {
        if (q.Length % PairLevels != 0 || coordinateMajor.Length < q.Length)
            throw new ArgumentException($"{q.Length} levels are not whole pairs of blocks, or {coordinateMajor.Length} bytes cannot hold them.", nameof(q));
        fixed (sbyte* source = q, target = coordinateMajor) E8PNibbleDecode.ToCoordinateMajor(source, q.Length / PairLevels, target);
    }

    /// <summary>
    /// The batch product above. <paramref name="q"/> holds the tokens' levels (⌈n/8⌉·8 each) and <paramref name="scales"/>
    /// their ⌈n/256⌉ scales each, from <see cref="Int8Activations.Quantize(ReadOnlySpan{float}, Span{sbyte}, Span{float})"/>;
    /// <paramref name="coordinateMajor"/> the same levels as <see cref="E8PNibbleDecode.ToCoordinateMajor"/> lays them out,
    /// token after token (read only by the register tile: pass an empty span when <see cref="Tiled"/> is false).
    /// </summary>
    internal static unsafe void DotE8PRows(ReadOnlySpan<ushort> words, int rows, ReadOnlySpan<sbyte> q, ReadOnlySpan<sbyte> coordinateMajor,
        ReadOnlySpan<float> scales, int tokens, Span<float> y, int ldy, Span<byte> scratch, Int8CodedRows.Path path)
    {
        if (tokens < 1) throw new ArgumentOutOfRangeException(nameof(tokens), tokens, "a batch has at least one token.");
        int levels = q.Length / tokens, blocks = scales.Length / tokens;
        if (rows == 0) return;
        if (levels * tokens != q.Length || blocks * tokens != scales.Length || ldy < rows || y.Length < (long)(tokens - 1) * ldy + rows)
            throw new ArgumentException($"{tokens} tokens of {levels} levels and {blocks} scales into y with stride {ldy} do not fit {rows} rows.", nameof(tokens));
        if (!Tiled(levels, path))
        {
            for (int t = 0; t < tokens; t++)
                Int8CodedRows.DotE8PRows(words, q.Slice(t * levels, levels), scales.Slice(t * blocks, blocks), y.Slice(t * ldy, rows), path);
            return;
        }
        int pairs = blocks / 2;
        if (words.Length != (long)rows * pairs * PairWords || coordinateMajor.Length < tokens * pairs * PairLevels || scratch.Length < ScratchLength(levels, tokens))
            throw new ArgumentException($"{rows} rows of {pairs * PairWords} words, {tokens} coordinate-major tokens and {scratch.Length} scratch bytes do not match.", nameof(words));
        fixed (ushort* w = words)
        fixed (sbyte* qc = coordinateMajor, x = q)
        fixed (float* s = scales, z = y)
        fixed (byte* work = scratch)
            Tiles(w, rows, pairs, x, qc, s, tokens, z, ldy, (byte*)(((nuint)work + 63) & ~(nuint)63));
    }

    private static unsafe void Tiles(ushort* w, int rows, int pairs, sbyte* q, sbyte* qc, float* s, int tokens, float* y, int ldy, byte* work)
    {
        int levels = pairs * PairLevels, blocks = 2 * pairs, tokenPairs = (tokens + 1) / TileTokens;
        byte* u = work;
        // Per token pair and pair of blocks: 11·Σq and s in the reduced vector's lane order (see Reduce): lanes 0–3 block A
        // of the first token, 4–7 block B of the first, 8–11 A of the second, 12–15 B of the second.
        int* offsets = (int*)(u + pairs * TileRows * PairLevels);
        float* factors = (float*)(offsets + tokenPairs * pairs * 16);
        int* blockOffsets = stackalloc int[blocks];
        for (int tp = 0; tp < tokenPairs; tp++)
            for (int half = 0; half < TileTokens; half++)
            {
                int t = Math.Min(tokens - 1, TileTokens * tp + half);
                E8PNibbleDecode.BlockOffsets(q + (long)t * levels, blocks, blockOffsets);
                for (int p = 0; p < pairs; p++)
                    for (int lane = 0; lane < 8; lane++)
                    {
                        int b = 2 * p + lane / 4, index = (tp * pairs + p) * 16 + 8 * half + lane;
                        offsets[index] = blockOffsets[b];
                        factors[index] = s[(long)t * blocks + b];
                    }
            }

        // (row g, token h) at lane i = 2g + h of the sums; its block A sum sits at lane 8h + g of the reduced vector, B at 8h + g + 4.
        var firstBlock = Vector512.Create(0, 8, 1, 9, 2, 10, 3, 11, 0, 8, 1, 9, 2, 10, 3, 11);
        var secondBlock = firstBlock + Vector512.Create(4);
        for (int r0 = 0; r0 < rows; r0 += TileRows)
        {
            // A short last tile repeats its last row; only real rows are stored.
            for (int i = 0; i < TileRows; i++)
            {
                ushort* row = w + (long)Math.Min(r0 + i, rows - 1) * pairs * PairWords;
                for (int p = 0; p < pairs; p++) E8PNibbleDecode.DecodeHalvedCoordinateMajor(row + p * PairWords, u + (p * TileRows + i) * PairLevels);
            }
            for (int tp = 0; tp < tokenPairs; tp++)
            {
                int t0 = TileTokens * tp, t1 = Math.Min(tokens - 1, t0 + 1);
                sbyte* qc0 = qc + (long)t0 * levels, qc1 = qc + (long)t1 * levels;
                var sums = Vector512<float>.Zero;
                for (int p = 0; p < pairs; p++)
                {
                    // Σ U·q = 2·Σ (U/2)·q, exact: the same integers as the one-token path's.
                    var halfSums = Reduce(u + p * TileRows * PairLevels, qc0 + p * PairLevels, qc1 + p * PairLevels);
                    int index = (tp * pairs + p) * 16;
                    var terms = Vector512.ConvertToSingle(halfSums + halfSums - Vector512.Load(offsets + index)) * Vector512.Load(factors + index);
                    // sum_i += s_A·(a_A − 11Σq_A), then += s_B·(…): block order, one rounding each, as the one-token path.
                    sums += Avx512F.PermuteVar16x32(terms, firstBlock);
                    sums += Avx512F.PermuteVar16x32(terms, secondBlock);
                }
                for (int i = 0; i < TileRows && r0 + i < rows; i++)
                {
                    y[(long)t0 * ldy + r0 + i] = 0.25f * sums.GetElement(2 * i);
                    y[(long)t1 * ldy + r0 + i] = 0.25f * sums.GetElement(2 * i + 1);
                }
            }
        }
    }

    /// <summary>
    /// The sixteen exact block sums Σ⟨U, q⟩ of one pair of blocks for the tile's 4 rows (decoded at <paramref name="u"/>,
    /// 512 bytes each) × 2 tokens: lane 4·L + g with g = row, L = 0 (token 0, block A), 1 (token 0, B), 2 (token 1, A),
    /// 3 (token 1, B).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<int> Reduce(byte* u, sbyte* q0, sbyte* q1)
    {
        // Products of (row g, token h) in v[2g + h]: int32 lane j covers words 4j … 4j + 3, so lanes 0–7 are block A, 8–15 block B.
        Vector512<int> v0, v1, v2, v3, v4, v5, v6, v7;
        (v0, v1) = Products(u, q0, q1);
        (v2, v3) = Products(u + PairLevels, q0, q1);
        (v4, v5) = Products(u + 2 * PairLevels, q0, q1);
        (v6, v7) = Products(u + 3 * PairLevels, q0, q1);
        return BlockSums(v0, v1, v2, v3, v4, v5, v6, v7);
    }

    /// <summary>
    /// The sixteen block sums of eight products v0 … v7, each sixteen int32 lanes whose lanes 0–7 add up to its sum over
    /// block A and lanes 8–15 over block B: with v_i = (g, h) for i = 2g + h, the sum over block X of v_i lands in lane
    /// 4·L + g with L = 2h (X = A) or 2h + 1 (X = B). One shuffle tree for all sixteen, where a reduction per product
    /// took eight steps each; integer sums, so the same values in any order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<int> BlockSums(Vector512<int> v0, Vector512<int> v1, Vector512<int> v2, Vector512<int> v3,
        Vector512<int> v4, Vector512<int> v5, Vector512<int> v6, Vector512<int> v7)
    {
        // 128-bit lanes [A, A, B, B] of x and y → [A_x, B_x, A_y, B_y], each four partial sums.
        var w01 = Fold128(v0, v1);
        var w23 = Fold128(v2, v3);
        var w45 = Fold128(v4, v5);
        var w67 = Fold128(v6, v7);
        // Four partials per 128-bit lane → two: [x: d0+d2, d1+d3 | y: d0+d2, d1+d3].
        var x = Avx512F.UnpackLow(w01.AsInt64(), w23.AsInt64()).AsInt32() + Avx512F.UnpackHigh(w01.AsInt64(), w23.AsInt64()).AsInt32();
        var z = Avx512F.UnpackLow(w45.AsInt64(), w67.AsInt64()).AsInt32() + Avx512F.UnpackHigh(w45.AsInt64(), w67.AsInt64()).AsInt32();
        // Two → one: lane 4L + g of the 128-bit lane L.
        const byte Evens = 0b10_00_10_00, Odds = 0b11_01_11_01;
        return Avx512F.Shuffle(x.AsSingle(), z.AsSingle(), Evens).AsInt32() + Avx512F.Shuffle(x.AsSingle(), z.AsSingle(), Odds).AsInt32();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Fold128(Vector512<int> x, Vector512<int> y) =>
        Avx512F.Shuffle4x128(x, y, 0b10_00_10_00) + Avx512F.Shuffle4x128(x, y, 0b11_01_11_01);

    /// <summary>
    /// Σ over the eight coordinates of (U/2)·q for one row decoded halved (<see cref="E8PNibbleDecode.DecodeHalvedCoordinateMajor"/>)
    /// against two tokens, as int32 lanes: each int16 lane adds eight pair products, |Σ| ≤ 8·2·11·127 = 22352 &lt; 2¹⁵, so
    /// one vpmaddwd per token widens all eight coordinates (with U itself the bound is twice that, and two runs of four
    /// needed two): nine multiplier instructions per row, token and 512 weights instead of ten.
    /// </summary>
    /// <remarks>Unrolled by hand, the row's eight coordinate vectors loaded once for both tokens and each run summed as a
    /// tree: the JIT keeps a loop over the coordinates, whose index arithmetic cost a fifth of the tile.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe (Vector512<int>, Vector512<int>) Products(byte* u, sbyte* q0, sbyte* q1)
    {
        var u0 = Vector512.Load(u);
        var u1 = Vector512.Load(u + 64);
        var u2 = Vector512.Load(u + 128);
        var u3 = Vector512.Load(u + 192);
        var u4 = Vector512.Load(u + 256);
        var u5 = Vector512.Load(u + 320);
        var u6 = Vector512.Load(u + 384);
        var u7 = Vector512.Load(u + 448);
        var ones = Vector512<short>.One;
        var low0 = Avx512BW.MultiplyAddAdjacent(u0, Vector512.Load(q0)) + Avx512BW.MultiplyAddAdjacent(u1, Vector512.Load(q0 + 64))
            + (Avx512BW.MultiplyAddAdjacent(u2, Vector512.Load(q0 + 128)) + Avx512BW.MultiplyAddAdjacent(u3, Vector512.Load(q0 + 192)));
        var high0 = Avx512BW.MultiplyAddAdjacent(u4, Vector512.Load(q0 + 256)) + Avx512BW.MultiplyAddAdjacent(u5, Vector512.Load(q0 + 320))
            + (Avx512BW.MultiplyAddAdjacent(u6, Vector512.Load(q0 + 384)) + Avx512BW.MultiplyAddAdjacent(u7, Vector512.Load(q0 + 448)));
        var low1 = Avx512BW.MultiplyAddAdjacent(u0, Vector512.Load(q1)) + Avx512BW.MultiplyAddAdjacent(u1, Vector512.Load(q1 + 64))
            + (Avx512BW.MultiplyAddAdjacent(u2, Vector512.Load(q1 + 128)) + Avx512BW.MultiplyAddAdjacent(u3, Vector512.Load(q1 + 192)));
        var high1 = Avx512BW.MultiplyAddAdjacent(u4, Vector512.Load(q1 + 256)) + Avx512BW.MultiplyAddAdjacent(u5, Vector512.Load(q1 + 320))
            + (Avx512BW.MultiplyAddAdjacent(u6, Vector512.Load(q1 + 384)) + Avx512BW.MultiplyAddAdjacent(u7, Vector512.Load(q1 + 448)));
        return (Avx512BW.MultiplyAddAdjacent(low0 + high0, ones), Avx512BW.MultiplyAddAdjacent(low1 + high1, ones));
    }
}
