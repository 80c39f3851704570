using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// Rows of an int8 block-quantised matrix against an int8 block-quantised vector (both <see cref="Int8Blocks"/>:
/// W[r, i] ≈ s_w[r, b]·q_w[r, i], x_i ≈ s_x[b]·q_x[i], blocks of 32):
///   y[r] = Σ_b (s_w[r, b]·s_x[b]) · S_rb,   S_rb = Σ_{i ∈ b} q_w[r, i]·q_x[i]
///   q_w: rows × 32B (B = ⌈n/32⌉ blocks, zero padded),  s_w: rows × B,  q_x: 32B,  s_x: B
/// S_rb is an exact int32 (|S| ≤ 32·127² &lt; 2²⁴, so it is also exact as a float). The float sum runs in one fixed
/// order on every path: block b goes to lane b mod 8, each lane accumulates its blocks in order with one fused
/// multiply-add, a_j ← fma(s_w·s_x, S, a_j), and y = ((a₀+a₄)+(a₂+a₆)) + ((a₁+a₅)+(a₃+a₇)). So the scalar
/// reference, the AVX2 and the AVX-VNNI paths give the same bits.
/// </summary>
/// <remarks>
/// A block of 32 levels is one 256-bit register. vpdpbusd multiplies unsigned by signed bytes, so the vector paths feed
/// it |q_w| and sign(q_w)·q_x (vpabsb, vpsignb; |q| ≤ 127 so the flip is exact). Eight blocks give eight registers of
/// partial sums, which three rounds of vphaddd and one cross-lane add turn into the eight S_rb in block order, one
/// float lane each: per eight blocks one conversion, one multiply of the scales and one FMA. Without AVX-VNNI,
/// vpmaddubsw (pairs ≤ 2·127², never saturating) and vpmaddwd give the same exact sums.
/// </remarks>
internal static class Int8BlockRows
{
    private const int Block = Int8Blocks.BlockLength;

    /// <summary>Float lanes of the block sum: blocks b and b + 8 share a lane.</summary>
    private const int Lanes = 8;

    /// <summary>
    /// y[r] for y.Length consecutive rows (see the type's formula): <paramref name="levels"/> and
    /// <paramref name="levelScales"/> are x from <see cref="Int8Blocks.Quantize(ReadOnlySpan{float}, Span{sbyte}, Span{float})"/>;
    /// each row holds levels.Length weights and levelScales.Length scales.
    /// </summary>
    public static void DotRows(ReadOnlySpan<sbyte> weights, ReadOnlySpan<float> weightScales, ReadOnlySpan<sbyte> levels,
        ReadOnlySpan<float> levelScales, Span<float> y) =>
        DotRows(weights, weightScales, levels, levelScales, y, Int8CodedRows.Best);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void DotRows(ReadOnlySpan<sbyte> weights, ReadOnlySpan<float> weightScales, ReadOnlySpan<sbyte> levels,
        ReadOnlySpan<float> levelScales, Span<float> y, Int8CodedRows.Path path)
    {
        int blocks = levelScales.Length;
        if (levels.Length != (long)blocks * Block)
            throw new ArgumentException($"{levels.Length} levels are not {blocks} blocks of {Block}.", nameof(levels));
        if (weights.Length != (long)y.Length * levels.Length || weightScales.Length != (long)y.Length * blocks)
            throw new ArgumentException(
                $"{y.Length} rows of {blocks} blocks need {(long)y.Length * levels.Length} levels and {(long)y.Length * blocks} scales, got {weights.Length} and {weightScales.Length}.",
                nameof(weights));
        fixed (sbyte* w = weights, x = levels)
        fixed (float* sw = weightScales, sx = levelScales)
        {
            for (int r = 0; r < y.Length; r++)
            {
                sbyte* row = w + (long)r * levels.Length;
                float* rowScales = sw + (long)r * blocks;
                y[r] = path switch
                {
                    Int8CodedRows.Path.AvxVnni => RowVector(row, rowScales, x, sx, blocks, vnni: true),
                    Int8CodedRows.Path.Avx512Vbmi => RowVector(row, rowScales, x, sx, blocks, vnni: AvxVnni.IsSupported),
                    Int8CodedRows.Path.Avx2 => RowVector(row, rowScales, x, sx, blocks, vnni: false),
                    Int8CodedRows.Path.ArmDotProduct or Int8CodedRows.Path.Vector128 => Row128(row, rowScales, x, sx, blocks, path),
                    _ => RowScalar(row, rowScales, x, sx, blocks),
                };
            }
        }
    }

    /// <summary>One row, one product at a time: the reference.</summary>
    private static unsafe float RowScalar(sbyte* w, float* sw, sbyte* x, float* sx, int blocks)
    {
        float* lanes = stackalloc float[Lanes];
        for (int j = 0; j < Lanes; j++) lanes[j] = 0;
        for (int b = 0; b < blocks; b++) Accumulate(lanes, b, sw[b] * sx[b], BlockScalar(w + b * Block, x + b * Block));
        return Reduce(lanes);
    }

    /// <summary>
    /// One row on 128-bit vectors (Arm): each block's exact S from two 16-byte halves, with SDOT or the portable widening
    /// multiplies, into the lanes in the reference's order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float Row128(sbyte* w, float* sw, sbyte* x, float* sx, int blocks, Int8CodedRows.Path path)
    {
        float* lanes = stackalloc float[Lanes];
        for (int j = 0; j < Lanes; j++) lanes[j] = 0;
        for (int b = 0; b < blocks; b++)
        {
            sbyte* wb = w + b * Block, xb = x + b * Block;
            var sums = path == Int8CodedRows.Path.ArmDotProduct
                ? Dp.DotProduct(Dp.DotProduct(Vector128<int>.Zero, Vector128.Load(wb), Vector128.Load(xb)), Vector128.Load(wb + 16), Vector128.Load(xb + 16))
                : Int8CodedRows.PairProducts(Vector128.Load(wb), Vector128.Load(xb)) + Int8CodedRows.PairProducts(Vector128.Load(wb + 16), Vector128.Load(xb + 16));
            Accumulate(lanes, b, sw[b] * sx[b], Vector128.Sum(sums));
        }
        return Reduce(lanes);
    }

    /// <summary>
    /// One row: eight blocks per step with vpdpbusd (<paramref name="vnni"/>) or vpmaddubsw + vpmaddwd, the float lanes in
    /// one register; the last blocks (fewer than eight) go one at a time into the same lanes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float RowVector(sbyte* w, float* sw, sbyte* x, float* sx, int blocks, bool vnni)
    {
        Vector256<float> acc = default;
        int b = 0;
        for (; b + Lanes <= blocks; b += Lanes)
        {
            sbyte* wb = w + b * Block, xb = x + b * Block;
            var sums = vnni
                ? SumsInBlockOrder(
                    PartialsVnni(wb, xb), PartialsVnni(wb + Block, xb + Block),
                    PartialsVnni(wb + 2 * Block, xb + 2 * Block), PartialsVnni(wb + 3 * Block, xb + 3 * Block),
                    PartialsVnni(wb + 4 * Block, xb + 4 * Block), PartialsVnni(wb + 5 * Block, xb + 5 * Block),
                    PartialsVnni(wb + 6 * Block, xb + 6 * Block), PartialsVnni(wb + 7 * Block, xb + 7 * Block))
                : SumsInBlockOrder(
                    PartialsAvx2(wb, xb), PartialsAvx2(wb + Block, xb + Block),
                    PartialsAvx2(wb + 2 * Block, xb + 2 * Block), PartialsAvx2(wb + 3 * Block, xb + 3 * Block),
                    PartialsAvx2(wb + 4 * Block, xb + 4 * Block), PartialsAvx2(wb + 5 * Block, xb + 5 * Block),
                    PartialsAvx2(wb + 6 * Block, xb + 6 * Block), PartialsAvx2(wb + 7 * Block, xb + 7 * Block));
            acc = Vector256.FusedMultiplyAdd(Vector256.Load(sw + b) * Vector256.Load(sx + b), Vector256.ConvertToSingle(sums), acc);
        }
        if (b == blocks)
        {
            // ((a₀+a₄)+(a₂+a₆)) + ((a₁+a₅)+(a₃+a₇)), as Reduce.
            var half = acc.GetLower() + acc.GetUpper();
            var pairs = half + Vector128.Shuffle(half, Vector128.Create(2, 3, 0, 1));
            return pairs.ToScalar() + pairs.GetElement(1);
        }
        return Tail(acc, w, sw, x, sx, b, blocks, vnni);
    }

    /// <summary>Blocks [b, blocks) of a row, one at a time into the lanes of <paramref name="acc"/>; kept out of the loop's method so the JIT does not spill it.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe float Tail(Vector256<float> acc, sbyte* w, float* sw, sbyte* x, float* sx, int b, int blocks, bool vnni)
    {
        float* lanes = stackalloc float[Lanes];
        acc.Store(lanes);
        for (; b < blocks; b++)
        {
            var partials = vnni ? PartialsVnni(w + b * Block, x + b * Block) : PartialsAvx2(w + b * Block, x + b * Block);
            Accumulate(lanes, b, sw[b] * sx[b], Vector256.Sum(partials));
        }
        return Reduce(lanes);
    }

    /// <summary>a_{b mod 8} ← fma(s_w·s_x, S_b, a_{b mod 8}): the only rounding of a block's term.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Accumulate(float* lanes, int b, float scale, int sum) =>
        lanes[b % Lanes] = MathF.FusedMultiplyAdd(scale, sum, lanes[b % Lanes]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float Reduce(float* a) => ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));

    /// <summary>S = Σ q_w·q_x over one block.</summary>
    private static unsafe int BlockScalar(sbyte* w, sbyte* x)
    {
        int sum = 0;
        for (int i = 0; i < Block; i++) sum += w[i] * x[i];
        return sum;
    }

    /// <summary>Eight int32 partial sums of one block (four products each): vpdpbusd of |q_w| and sign(q_w)·q_x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<int> PartialsVnni(sbyte* w, sbyte* x)
    {
        var c = Vector256.Load(w);
        return AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, Avx2.Abs(c), Avx2.Sign(Vector256.Load(x), c));
    }

    /// <summary><see cref="PartialsVnni"/> with vpmaddubsw (pairs) and vpmaddwd (quads), for AVX2 machines without AVX-VNNI.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<int> PartialsAvx2(sbyte* w, sbyte* x)
    {
        var c = Vector256.Load(w);
        var pairs = Avx2.MultiplyAddAdjacent(Avx2.Abs(c), Avx2.Sign(Vector256.Load(x), c));
        return Avx2.MultiplyAddAdjacent(pairs, Vector256.Create((short)1));
    }

    /// <summary>
    /// [S₀ … S₇] from the partial sums of eight blocks: vphaddd within each 128-bit half gives, after three rounds,
    /// the low-half and high-half totals of blocks 0–3 and 4–7, and one cross-lane add joins them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> SumsInBlockOrder(Vector256<int> p0, Vector256<int> p1, Vector256<int> p2, Vector256<int> p3,
        Vector256<int> p4, Vector256<int> p5, Vector256<int> p6, Vector256<int> p7)
    {
        var first = Avx2.HorizontalAdd(Avx2.HorizontalAdd(p0, p1), Avx2.HorizontalAdd(p2, p3));  // [0 1 2 3 | 0 1 2 3]
        var second = Avx2.HorizontalAdd(Avx2.HorizontalAdd(p4, p5), Avx2.HorizontalAdd(p6, p7)); // [4 5 6 7 | 4 5 6 7]
        return Avx2.Permute2x128(first, second, 0x20) + Avx2.Permute2x128(first, second, 0x31);
    }
}
