using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// Rows of a 6-bit block-quantised matrix against an int8 block-quantised vector (both <see cref="Int6Blocks"/>:
/// W[r, i] ≈ s_w[r, b]·q_w[r, i] with q_w = u − 32 ∈ [−31, 31], x_i ≈ s_x[b]·q_x[i], blocks of 32, groups of 8 blocks):
///   y[r] = Σ_b (s_w[r, b]·s_x[b]) · S_rb,   S_rb = Σ_{i ∈ b} q_w[r, i]·q_x[i] = Σ_{i ∈ b} u[r, i]·q_x[i] − o_b,   o_b = 32·Σ_{i ∈ b} q_x[i]
///   planes: rows × 192G bytes,  s_w: rows × 8G BF16,  q_x: 256G int8 in the group order,  s_x, o: 8G   (G = groups)
/// S_rb is an exact int32 (|S| ≤ 32·31·127 &lt; 2²⁴, exact as a float too), and the float sum runs in
/// <see cref="Int8BlockRows"/>' fixed order: block b into lane b mod 8 by a_j ← fma(s_w·s_x, S, a_j), then
/// y = ((a₀+a₄)+(a₂+a₆)) + ((a₁+a₅)+(a₃+a₇)). So the scalar reference and every vector path give the same bits.
/// </summary>
/// <remarks>
/// The vector paths multiply the stored u (unsigned, ≤ 63) by q_x (signed) directly, so no sign handling per byte: with
/// the group order of <see cref="Int6Blocks"/>, int32 lane k of every 32-byte product sums block k, so a group's eight
/// Σ u·q_x come out in block order and one subtraction of the input's offsets o gives the eight S. AVX2 unpacks eight
/// 32-byte runs per group from four nibble loads and two top-bit loads (shift and mask); AVX-VNNI sums them with one
/// vpdpbusd each; plain AVX2 with vpmaddubsw (pairs ≤ 2·63·128 = 16128, so two runs' pairs add in int16 without
/// overflow) and one vpmaddwd per two runs. The AVX-512 path unpacks 64 bytes at a time: gf2p8affineqb moves each
/// top-bit pair to bits 4–5 of its byte with zeros around it, and one vpternlogd merges it under the nibble. On Arm
/// (<see cref="Row128"/>) a 16-byte run holds blocks 0–3 or 4–7 by the same rule, so SDOT gives four block sums per run.
/// </remarks>
internal static class Int6BlockRows
{
    private const int Lanes = Int6Blocks.BlocksPerGroup;
    private const int GroupLength = Int6Blocks.GroupLength;
    private const int GroupBytes = Int6Blocks.GroupBytes;
    private const int NibbleBytes = Int6Blocks.NibblePlaneBytes;

    /// <summary>
    /// y[r] for y.Length consecutive rows (see the type's formula): <paramref name="levels"/>, <paramref name="levelScales"/>
    /// and <paramref name="offsets"/> are x from <see cref="Int6Blocks.QuantizeInput(ReadOnlySpan{float}, Span{sbyte}, Span{float}, Span{int})"/>;
    /// each row holds 192 plane bytes and 8 scales per group of levels.
    /// </summary>
    public static void DotRows(ReadOnlySpan<byte> planes, ReadOnlySpan<ushort> weightScales, ReadOnlySpan<sbyte> levels,
        ReadOnlySpan<float> levelScales, ReadOnlySpan<int> offsets, Span<float> y) =>
        DotRows(planes, weightScales, levels, levelScales, offsets, y, Int8CodedRows.Best);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void DotRows(ReadOnlySpan<byte> planes, ReadOnlySpan<ushort> weightScales, ReadOnlySpan<sbyte> levels,
        ReadOnlySpan<float> levelScales, ReadOnlySpan<int> offsets, Span<float> y, Int8CodedRows.Path path)
    {
        int groups = RequireShape(planes.Length, weightScales.Length, y.Length, levels.Length, levelScales.Length, offsets.Length), blocks = groups * Lanes;
        fixed (byte* w = planes)
        fixed (ushort* sw = weightScales)
        fixed (sbyte* x = levels)
        fixed (float* sx = levelScales)
        fixed (int* o = offsets)
        {
            for (int r = 0; r < y.Length; r++)
            {
                byte* row = w + (long)r * groups * GroupBytes;
                ushort* rowScales = sw + (long)r * blocks;
                y[r] = path switch
                {
                    Int8CodedRows.Path.Avx512Vbmi => RowAvx512(row, rowScales, x, sx, o, groups),
                    Int8CodedRows.Path.AvxVnni => RowAvx2(row, rowScales, x, sx, o, groups, vnni: true),
                    Int8CodedRows.Path.Avx2 => RowAvx2(row, rowScales, x, sx, o, groups, vnni: false),
                    Int8CodedRows.Path.ArmDotProduct => Row128(row, rowScales, x, sx, o, groups, dot: true),
                    Int8CodedRows.Path.Vector128 => Row128(row, rowScales, x, sx, o, groups, dot: false),
                    _ => RowScalar(row, rowScales, x, sx, groups),
                };
            }
        }
    }

    /// <summary>The most tokens whose float accumulators <see cref="DotRowsTokens"/> keeps on the stack at once (a longer batch runs in slices).</summary>
    internal const int MaxTileTokens = 16;

    /// <summary>
    /// The rows against <paramref name="tokens"/> inputs (each laid out as for <see cref="DotRows(ReadOnlySpan{byte}, ReadOnlySpan{ushort}, ReadOnlySpan{sbyte}, ReadOnlySpan{float}, ReadOnlySpan{int}, Span{float})"/>,
    /// token after token): y[t·ldy + r] is bit for bit what that call gives token t. On the AVX-512 path every group of a
    /// row is unpacked once for all the tokens (the unpack is a third of the one-token kernel's vector work), two rows at
    /// a time so that each token's levels are loaded once for both (2048 rows, 8 tokens, one thread: 0.46 → 0.41 ms); the
    /// other paths run the one-token kernel per token.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void DotRowsTokens(ReadOnlySpan<byte> planes, ReadOnlySpan<ushort> weightScales, int rows, ReadOnlySpan<sbyte> levels,
        ReadOnlySpan<float> levelScales, ReadOnlySpan<int> offsets, int tokens, Span<float> y, int ldy, Int8CodedRows.Path path)
    {
        if (tokens < 1) throw new ArgumentOutOfRangeException(nameof(tokens), tokens, "a batch has at least one token.");
        int length = levels.Length / tokens, blocks = levelScales.Length / tokens;
        if (length * tokens != levels.Length || blocks * tokens != levelScales.Length || offsets.Length != levelScales.Length
            || ldy < rows || y.Length < (long)(tokens - 1) * ldy + rows)
            throw new ArgumentException($"{tokens} tokens of {levels.Length} levels, {levelScales.Length} scales and {offsets.Length} offsets into y with stride {ldy} do not fit {rows} rows.", nameof(tokens));
        if (path != Int8CodedRows.Path.Avx512Vbmi || tokens == 1)
        {
            for (int t = 0; t < tokens; t++)
                DotRows(planes, weightScales, levels.Slice(t * length, length), levelScales.Slice(t * blocks, blocks),
                    offsets.Slice(t * blocks, blocks), y.Slice(t * ldy, rows), path);
            return;
        }
        int groups = RequireShape(planes.Length, weightScales.Length, rows, length, blocks, blocks);
        fixed (byte* w = planes)
        fixed (ushort* sw = weightScales)
        fixed (sbyte* x = levels)
        fixed (float* sx = levelScales)
        fixed (int* o = offsets)
        fixed (float* z = y)
        {
            var acc = stackalloc Vector256<float>[2 * MaxTileTokens];
            for (int first = 0; first < tokens; first += MaxTileTokens)
            {
                int count = Math.Min(MaxTileTokens, tokens - first), r = 0;
                for (; r + 1 < rows; r += 2)
                {
                    RowPairTokensAvx512(w + (long)r * groups * GroupBytes, sw + (long)r * blocks, x + (long)first * length, length,
                        sx + (long)first * blocks, o + (long)first * blocks, blocks, groups, count, acc);
                    for (int t = 0; t < count; t++)
                    {
                        z[(long)(first + t) * ldy + r] = Reduce(acc[2 * t]);
                        z[(long)(first + t) * ldy + r + 1] = Reduce(acc[2 * t + 1]);
                    }
                }
                if (r < rows)
                {
                    RowTokensAvx512(w + (long)r * groups * GroupBytes, sw + (long)r * blocks, x + (long)first * length, length,
                        sx + (long)first * blocks, o + (long)first * blocks, blocks, groups, count, acc);
                    for (int t = 0; t < count; t++) z[(long)(first + t) * ldy + r] = Reduce(acc[t]);
                }
            }
        }
    }

    /// <summary>
    /// The groups of one input of <paramref name="levels"/> levels with its <paramref name="levelScales"/> scales and
    /// <paramref name="offsets"/>, against <paramref name="rows"/> rows of <paramref name="planeBytes"/> plane bytes and
    /// <paramref name="weightScales"/> scales in all; a mismatch is an <see cref="ArgumentException"/> saying which.
    /// </summary>
    private static int RequireShape(long planeBytes, long weightScales, int rows, int levels, int levelScales, int offsets)
    {
        int groups = levels / GroupLength, blocks = groups * Lanes;
        if (levels % GroupLength != 0 || levelScales != blocks || offsets != blocks)
            throw new ArgumentException(
                $"{levels} levels are not whole groups of {GroupLength} with one scale and one offset per {Int6Blocks.BlockLength} (got {levelScales} and {offsets}).",
                "levels");
        if (planeBytes != (long)rows * groups * GroupBytes || weightScales != (long)rows * blocks)
            throw new ArgumentException(
                $"{rows} rows of {groups} groups need {(long)rows * groups * GroupBytes} plane bytes and {(long)rows * blocks} scales, got {planeBytes} and {weightScales}.",
                "planes");
        return groups;
    }

    /// <summary>One row against <paramref name="tokens"/> inputs (<paramref name="length"/> levels and <paramref name="blocks"/> scales and offsets apart): <see cref="RowAvx512"/>'s arithmetic per token, each group unpacked once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void RowTokensAvx512(byte* w, ushort* sw, sbyte* x, int length, float* sx, int* o, int blocks, int groups, int tokens, Vector256<float>* acc)
    {
        var ones = Vector512.Create((short)1);
        for (int t = 0; t < tokens; t++) acc[t] = default;
        for (int g = 0; g < groups; g++)
        {
            var (u0, u1, u2, u3) = UnpackGroup(w + g * GroupBytes);
            // Step's arithmetic with the row's scales widened once: BF16 → float is exact, so every token sees the same bits.
            int b = g * Lanes;
            var weightScales = (Avx2.ConvertToVector256Int32(sw + b) << 16).AsSingle();
            for (int t = 0; t < tokens; t++)
            {
                sbyte* xg = x + (long)t * length + g * GroupLength;
                var p01 = Avx512BW.MultiplyAddAdjacent(u0, Vector512.Load(xg)) + Avx512BW.MultiplyAddAdjacent(u1, Vector512.Load(xg + 64));
                var p23 = Avx512BW.MultiplyAddAdjacent(u2, Vector512.Load(xg + 128)) + Avx512BW.MultiplyAddAdjacent(u3, Vector512.Load(xg + 192));
                var quads = Avx512BW.MultiplyAddAdjacent(p01, ones) + Avx512BW.MultiplyAddAdjacent(p23, ones);
                var blockSums = Vector256.ConvertToSingle(quads.GetLower() + quads.GetUpper() - Vector256.Load(o + (long)t * blocks + b));
                acc[t] = Vector256.FusedMultiplyAdd(weightScales * Vector256.Load(sx + (long)t * blocks + b), blockSums, acc[t]);
            }
        }
    }

    /// <summary>
    /// Two rows against <paramref name="tokens"/> inputs, <see cref="RowTokensAvx512"/>'s arithmetic for each (token t's
    /// accumulators at acc[2t] and acc[2t + 1]): a token's levels, offsets and scales are loaded once for both rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void RowPairTokensAvx512(byte* w, ushort* sw, sbyte* x, int length, float* sx, int* o, int blocks, int groups, int tokens, Vector256<float>* acc)
    {
        var ones = Vector512.Create((short)1);
        byte* w1 = w + (long)groups * GroupBytes;
        ushort* sw1 = sw + blocks;
        for (int t = 0; t < 2 * tokens; t++) acc[t] = default;
        for (int g = 0; g < groups; g++)
        {
            var (u0, u1, u2, u3) = UnpackGroup(w + g * GroupBytes);
            var (v0, v1, v2, v3) = UnpackGroup(w1 + g * GroupBytes);
            int b = g * Lanes;
            var firstScales = (Avx2.ConvertToVector256Int32(sw + b) << 16).AsSingle();
            var secondScales = (Avx2.ConvertToVector256Int32(sw1 + b) << 16).AsSingle();
            for (int t = 0; t < tokens; t++)
            {
                sbyte* xg = x + (long)t * length + g * GroupLength;
                var x0 = Vector512.Load(xg);
                var x1 = Vector512.Load(xg + 64);
                var x2 = Vector512.Load(xg + 128);
                var x3 = Vector512.Load(xg + 192);
                var first = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u0, x0) + Avx512BW.MultiplyAddAdjacent(u1, x1), ones)
                    + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u2, x2) + Avx512BW.MultiplyAddAdjacent(u3, x3), ones);
                var second = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(v0, x0) + Avx512BW.MultiplyAddAdjacent(v1, x1), ones)
                    + Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(v2, x2) + Avx512BW.MultiplyAddAdjacent(v3, x3), ones);
                var offsets = Vector256.Load(o + (long)t * blocks + b);
                var inputScales = Vector256.Load(sx + (long)t * blocks + b);
                acc[2 * t] = Vector256.FusedMultiplyAdd(firstScales * inputScales, Vector256.ConvertToSingle(first.GetLower() + first.GetUpper() - offsets), acc[2 * t]);
                acc[2 * t + 1] = Vector256.FusedMultiplyAdd(secondScales * inputScales, Vector256.ConvertToSingle(second.GetLower() + second.GetUpper() - offsets), acc[2 * t + 1]);
            }
        }
    }

    /// <summary>One row, one product at a time from the planes' definition: the reference.</summary>
    private static unsafe float RowScalar(byte* w, ushort* sw, sbyte* x, float* sx, int groups)
    {
        float* lanes = stackalloc float[Lanes];
        int* sums = stackalloc int[Lanes];
        for (int j = 0; j < Lanes; j++) lanes[j] = 0;
        for (int g = 0; g < groups; g++)
        {
            var group = new ReadOnlySpan<byte>(w + g * GroupBytes, GroupBytes);
            sbyte* xg = x + g * GroupLength;
            for (int j = 0; j < Lanes; j++) sums[j] = 0;
            for (int p = 0; p < GroupLength; p++)
                sums[p / 4 % Lanes] += (Int6Blocks.StoredLevel(group, p) - Int6Blocks.Offset) * xg[p];
            for (int j = 0; j < Lanes; j++)
            {
                int b = g * Lanes + j;
                lanes[j] = MathF.FusedMultiplyAdd(Int6Blocks.Scale(sw[b]) * sx[b], sums[j], lanes[j]);
            }
        }
        return ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
    }

    /// <summary>One row in 32-byte runs: vpdpbusd per run (<paramref name="vnni"/>) or vpmaddubsw + vpmaddwd.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float RowAvx2(byte* w, ushort* sw, sbyte* x, float* sx, int* o, int groups, bool vnni)
    {
        var low = Vector256.Create((byte)0x0F);
        var top = Vector256.Create((byte)0x30);
        Vector256<float> acc = default;
        for (int g = 0; g < groups; g++)
        {
            byte* n = w + g * GroupBytes, t = n + NibbleBytes;
            sbyte* xg = x + g * GroupLength;
            var n0 = Vector256.Load(n).AsUInt16();
            var n1 = Vector256.Load(n + 32).AsUInt16();
            var n2 = Vector256.Load(n + 64).AsUInt16();
            var n3 = Vector256.Load(n + 96).AsUInt16();
            var t0 = Vector256.Load(t).AsUInt16();
            var t1 = Vector256.Load(t + 32).AsUInt16();
            // Run i covers positions [32i, 32i + 32): nibble byte (i mod 4) low or high, top-bit byte (i mod 2), pair ⌊i/2⌋.
            var u0 = Merge(n0, t0 << 4, low, top);
            var u1 = Merge(n1, t1 << 4, low, top);
            var u2 = Merge(n2, t0 << 2, low, top);
            var u3 = Merge(n3, t1 << 2, low, top);
            var u4 = Merge(n0 >> 4, t0, low, top);
            var u5 = Merge(n1 >> 4, t1, low, top);
            var u6 = Merge(n2 >> 4, t0 >> 2, low, top);
            var u7 = Merge(n3 >> 4, t1 >> 2, low, top);
            Vector256<int> sums;
            if (vnni)
            {
                var first = AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, u0, Vector256.Load(xg));
                var second = AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, u4, Vector256.Load(xg + 128));
                first = AvxVnni.MultiplyWideningAndAdd(first, u1, Vector256.Load(xg + 32));
                second = AvxVnni.MultiplyWideningAndAdd(second, u5, Vector256.Load(xg + 160));
                first = AvxVnni.MultiplyWideningAndAdd(first, u2, Vector256.Load(xg + 64));
                second = AvxVnni.MultiplyWideningAndAdd(second, u6, Vector256.Load(xg + 192));
                first = AvxVnni.MultiplyWideningAndAdd(first, u3, Vector256.Load(xg + 96));
                second = AvxVnni.MultiplyWideningAndAdd(second, u7, Vector256.Load(xg + 224));
                sums = first + second;
            }
            else
            {
                var ones = Vector256.Create((short)1);
                sums = Avx2.MultiplyAddAdjacent(Pairs(u0, xg) + Pairs(u1, xg + 32), ones)
                    + Avx2.MultiplyAddAdjacent(Pairs(u2, xg + 64) + Pairs(u3, xg + 96), ones)
                    + Avx2.MultiplyAddAdjacent(Pairs(u4, xg + 128) + Pairs(u5, xg + 160), ones)
                    + Avx2.MultiplyAddAdjacent(Pairs(u6, xg + 192) + Pairs(u7, xg + 224), ones);
            }
            acc = Step(acc, sums, sw, sx, o, g);
        }
        return Reduce(acc);
    }

    /// <summary>
    /// One row in 16-byte runs (Arm): run r of a group (positions 16r…16r + 15) holds blocks 0–3 when r is even and 4–7
    /// when odd, four bytes each, so an SDOT (<paramref name="dot"/>) of u with q_x adds the four block sums lane by lane.
    /// The portable path widens both to int16 (|u·q| ≤ 63·128 = 8064, a pair ≤ 16128), adds each pair of products in
    /// one int32 lane by shifts, and the lanes' pairs at the end of the group. Exact, as every path.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float Row128(byte* w, ushort* sw, sbyte* x, float* sx, int* o, int groups, bool dot)
    {
        Vector128<float> low = default, high = default;
        for (int g = 0; g < groups; g++)
        {
            byte* n = w + g * GroupBytes, t = n + NibbleBytes;
            sbyte* xg = x + g * GroupLength;
            Vector128<int> first, second;
            if (dot)
            {
                first = second = Vector128<int>.Zero;
                for (int r = 0; r < GroupLength / 16; r += 2)
                {
                    first = Dp.DotProduct(first, Run(n, t, 16 * r).AsSByte(), Vector128.Load(xg + 16 * r));
                    second = Dp.DotProduct(second, Run(n, t, 16 * r + 16).AsSByte(), Vector128.Load(xg + 16 * r + 16));
                }
            }
            else
            {
                // Lane i of a pair vector: bytes 2i, 2i + 1 of the run's first (…0) or second (…1) eight bytes.
                Vector128<int> first0 = default, first1 = default, second0 = default, second1 = default;
                for (int r = 0; r < GroupLength / 16; r += 2)
                {
                    var (a0, a1) = PairSums(Run(n, t, 16 * r), Vector128.Load(xg + 16 * r));
                    var (b0, b1) = PairSums(Run(n, t, 16 * r + 16), Vector128.Load(xg + 16 * r + 16));
                    first0 += a0;
                    first1 += a1;
                    second0 += b0;
                    second1 += b1;
                }
                first = Vector128.Create(first0[0] + first0[1], first0[2] + first0[3], first1[0] + first1[1], first1[2] + first1[3]);
                second = Vector128.Create(second0[0] + second0[1], second0[2] + second0[3], second1[0] + second1[1], second1[2] + second1[3]);
            }
            int b = g * Lanes;
            low = Step128(low, first, sw + b, sx + b, o + b);
            high = Step128(high, second, sw + b + 4, sx + b + 4, o + b + 4);
        }
        var half = low + high;
        return (half[0] + half[2]) + (half[1] + half[3]);
    }

    /// <summary>u at positions [p, p + 16) of one group: the nibble and the top bits of each, from the two planes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector128<byte> Run(byte* nibbles, byte* tops, int p)
    {
        var nibble = Vector128.ShiftRightLogical(Vector128.Load(nibbles + p % NibbleBytes), 4 * (p / NibbleBytes)) & Vector128.Create((byte)0x0F);
        var top = Vector128.ShiftRightLogical(Vector128.Load(tops + p % 64), 2 * (p / 64)) & Vector128.Create((byte)0x03);
        return nibble | Vector128.ShiftLeft(top, 4);
    }

    /// <summary>The eight sums u_{2i}·q_{2i} + u_{2i+1}·q_{2i+1} of a 16-byte run, in two int32 vectors (bytes 0–7, then 8–15).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector128<int>, Vector128<int>) PairSums(Vector128<byte> u, Vector128<sbyte> q)
    {
        var (uLow, uHigh) = Vector128.Widen(u);
        var (qLow, qHigh) = Vector128.Widen(q);
        var low = (uLow.AsInt16() * qLow).AsInt32();
        var high = (uHigh.AsInt16() * qHigh).AsInt32();
        // Each int32 lane holds two int16 products: the low one sign-extended plus the high one.
        return (Vector128.ShiftRightArithmetic(Vector128.ShiftLeft(low, 16), 16) + Vector128.ShiftRightArithmetic(low, 16),
            Vector128.ShiftRightArithmetic(Vector128.ShiftLeft(high, 16), 16) + Vector128.ShiftRightArithmetic(high, 16));
    }

    /// <summary>Four blocks' Σ u·q_x less their offsets into four float lanes, as <see cref="Step"/> does for eight.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector128<float> Step128(Vector128<float> acc, Vector128<int> sums, ushort* sw, float* sx, int* o)
    {
        var scales = Vector128.ShiftLeft(Vector128.WidenLower(Vector128.CreateScalar(*(ulong*)sw).AsUInt16()), 16).AsSingle();
        var blockSums = Vector128.ConvertToSingle(sums - Vector128.Load(o));
        return Vector128.FusedMultiplyAdd(scales * Vector128.Load(sx), blockSums, acc);
    }

    /// <summary>
    /// The four 64-byte runs of u of the group at <paramref name="group"/>: two nibble loads and one top-bit load; each
    /// run's top bits go to bits 4–5 by one gf2p8affineqb (no neighbour bits, unlike a 16-bit shift) and join the
    /// nibbles in one vpternlogd.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe (Vector512<byte>, Vector512<byte>, Vector512<byte>, Vector512<byte>) UnpackGroup(byte* group)
    {
        var low = Vector512.Create((byte)0x0F);
        // Row i of a gf2p8affineqb matrix (byte 7 − i) selects the source bits of result bit i: bits 2k, 2k + 1 → 4, 5.
        var pair0 = Vector512.Create(0x0000_0000_0102_0000UL).AsByte();
        var pair1 = Vector512.Create(0x0000_0000_0408_0000UL).AsByte();
        var pair2 = Vector512.Create(0x0000_0000_1020_0000UL).AsByte();
        var pair3 = Vector512.Create(0x0000_0000_4080_0000UL).AsByte();
        var n0 = Vector512.Load(group);
        var n1 = Vector512.Load(group + 64);
        var t = Vector512.Load(group + NibbleBytes);
        // (nibble & 0x0F) | (top & ~0x0F): the top operand is zero outside bits 4–5.
        return (Avx512F.TernaryLogic(n0, Gfni.V512.GaloisFieldAffineTransform(t, pair0, 0), low, 0xE4),
            Avx512F.TernaryLogic(n1, Gfni.V512.GaloisFieldAffineTransform(t, pair1, 0), low, 0xE4),
            Avx512F.TernaryLogic((n0.AsUInt16() >> 4).AsByte(), Gfni.V512.GaloisFieldAffineTransform(t, pair2, 0), low, 0xE4),
            Avx512F.TernaryLogic((n1.AsUInt16() >> 4).AsByte(), Gfni.V512.GaloisFieldAffineTransform(t, pair3, 0), low, 0xE4));
    }

    /// <summary>
    /// One row in 64-byte runs, each group unpacked by <see cref="UnpackGroup"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float RowAvx512(byte* w, ushort* sw, sbyte* x, float* sx, int* o, int groups)
    {
        var ones = Vector512.Create((short)1);
        Vector256<float> acc = default;
        for (int g = 0; g < groups; g++)
        {
            sbyte* xg = x + g * GroupLength;
            var (u0, u1, u2, u3) = UnpackGroup(w + g * GroupBytes);
            var p01 = Avx512BW.MultiplyAddAdjacent(u0, Vector512.Load(xg)) + Avx512BW.MultiplyAddAdjacent(u1, Vector512.Load(xg + 64));
            var p23 = Avx512BW.MultiplyAddAdjacent(u2, Vector512.Load(xg + 128)) + Avx512BW.MultiplyAddAdjacent(u3, Vector512.Load(xg + 192));
            var quads = Avx512BW.MultiplyAddAdjacent(p01, ones) + Avx512BW.MultiplyAddAdjacent(p23, ones);
            acc = Step(acc, quads.GetLower() + quads.GetUpper(), sw, sx, o, g);
        }
        return Reduce(acc);
    }

    /// <summary>Run bytes u = (nibble &amp; 0x0F) | (top &amp; 0x30), both operands shifted as 16-bit words (the masks drop what crosses bytes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Merge(Vector256<ushort> nibbles, Vector256<ushort> tops, Vector256<byte> low, Vector256<byte> top) =>
        (nibbles.AsByte() & low) | (tops.AsByte() & top);

    /// <summary>vpmaddubsw of a run: sixteen int16 pair sums, |each| ≤ 2·63·128.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<short> Pairs(Vector256<byte> u, sbyte* x) => Avx2.MultiplyAddAdjacent(u, Vector256.Load(x));

    /// <summary>Group g's eight Σ u·q_x in block order, less the offsets, into the float lanes: one FMA for eight blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<float> Step(Vector256<float> acc, Vector256<int> sums, ushort* sw, float* sx, int* o, int g)
    {
        int b = g * Lanes;
        var scales = (Avx2.ConvertToVector256Int32(sw + b) << 16).AsSingle(); // BF16 → float: the 16 bits on top
        var blockSums = Vector256.ConvertToSingle(sums - Vector256.Load(o + b));
        return Vector256.FusedMultiplyAdd(scales * Vector256.Load(sx + b), blockSums, acc);
    }

    /// <summary>((a₀+a₄)+(a₂+a₆)) + ((a₁+a₅)+(a₃+a₇)), as the scalar path.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Reduce(Vector256<float> acc)
    {
        var half = acc.GetLower() + acc.GetUpper();
        var pairs = half + Vector128.Shuffle(half, Vector128.Create(2, 3, 0, 1));
        return pairs.ToScalar() + pairs.GetElement(1);
    }
}
