using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// Symmetric 6-bit quantisation of weight rows in blocks of 32 (the storage of <see cref="Int6BlockRows"/>), and the
/// int8 input it is applied to:
///   W[r, i] ≈ s_b·q_i  for i in block b,   s_b = max_{i∈b}|W[r, i]| / 31 rounded up to a BF16,   q_i = round(W[r, i]/s_b) ∈ [−31, 31]
/// stored as u = q + 32 ∈ [1, 63] in 6 bits: a plane of low nibbles and a plane of top two bits, 24 bytes per block, plus
/// the BF16 scale: 6.5 bits per weight (Q6_K's 6.5625). Rows are padded with zero weights to whole groups of 256
/// entries (8 blocks), the unit every path works in.
/// </summary>
/// <remarks>
/// <para>
/// Why BF16 scales: decoding one is a 16-bit shift (exact, float's range, no subnormal cases), and rounding max/31 up
/// keeps every |q| ≤ 31 while it widens the step by at most 2⁻⁷ (≈ 0.4 % more rounding noise on average).
/// </para>
/// <para>
/// Group order: inside a group the 256 levels are stored not by column but so that byte 4k + e of every 32-byte run
/// (k = 0…7) belongs to block k of the group. Column i of a group (block j = i/32, quad t = (i mod 32)/4, byte e = i mod 4)
/// sits at position p = 64·⌊t/2⌋ + 4·(8·(t mod 2) + j) + e (<see cref="GroupPosition"/>). Then int32 lane k of any
/// vpmaddubsw + vpmaddwd or vpdpbusd over 32 or 64 bytes sums products of block k only, so eight block sums come out in
/// block order with no horizontal adds. The input's levels are put in the same order once per token
/// (<see cref="QuantizeInput(ReadOnlySpan{float}, Span{sbyte}, Span{float}, Span{int})"/>).
/// </para>
/// <para>
/// Planes of a group (192 bytes): byte p &lt; 128 holds u_p in its low nibble and u_{p+128} in its high nibble; byte
/// 128 + p (p &lt; 64) holds bits 4–5 of u_p, u_{p+64}, u_{p+128}, u_{p+192} in its bit pairs 0–1, 2–3, 4–5, 6–7. So a
/// 64-byte load of either plane serves 64 consecutive positions with one shift or none.
/// </para>
/// </remarks>
internal static class Int6Blocks
{
    /// <summary>Entries that share one scale: <see cref="Int8Blocks.BlockLength"/>, so the input's int8 blocks line up.</summary>
    public const int BlockLength = Int8Blocks.BlockLength;

    /// <summary>Blocks in a group: one float lane each of a 256-bit accumulator.</summary>
    public const int BlocksPerGroup = 8;

    /// <summary>Entries in a group.</summary>
    public const int GroupLength = BlockLength * BlocksPerGroup;

    /// <summary>Bytes of a group's two planes: 6 bits per entry.</summary>
    public const int GroupBytes = GroupLength * 6 / 8;

    /// <summary>Bytes of the low-nibble plane in a group; the top-bits plane follows it.</summary>
    internal const int NibblePlaneBytes = GroupLength / 2;

    /// <summary>The largest |q|.</summary>
    public const int MaxLevel = 31;

    /// <summary>u = q + Offset is what is stored and what the unsigned×signed byte products multiply.</summary>
    public const int Offset = 32;

    /// <summary>Groups for a row of <paramref name="length"/> entries.</summary>
    public static int GroupCount(int length) => (length + GroupLength - 1) / GroupLength;

    /// <summary>Entries of a row or an input of <paramref name="length"/> once padded to whole groups.</summary>
    public static int PaddedLength(int length) => GroupCount(length) * GroupLength;

    /// <summary>Scales of a row (and of the input) of <paramref name="length"/> entries, padding blocks included.</summary>
    public static int BlockCount(int length) => GroupCount(length) * BlocksPerGroup;

    /// <summary>Plane bytes of a row of <paramref name="length"/> entries.</summary>
    public static long RowBytes(int length) => (long)GroupCount(length) * GroupBytes;

    /// <summary>Position in the group order (see the remarks) of column <paramref name="i"/> (0…255) of a group.</summary>
    public static int GroupPosition(int i)
    {
        int block = i / BlockLength, quad = i % BlockLength / 4;
        return 64 * (quad / 2) + 4 * (BlocksPerGroup * (quad % 2) + block) + i % 4;
    }

    /// <summary>The float value of a stored BF16 scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Scale(ushort bf16) => BitConverter.UInt32BitsToSingle((uint)bf16 << 16);

    /// <summary>u (q + 32) at group position <paramref name="p"/> of one group's planes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int StoredLevel(ReadOnlySpan<byte> group, int p)
    {
        int nibble = group[p % NibblePlaneBytes] >> (4 * (p / NibblePlaneBytes)) & 0xF;
        int top = group[NibblePlaneBytes + p % 64] >> (2 * (p / 64)) & 0x3;
        return nibble | top << 4;
    }

    /// <summary>Writes a row's planes (<see cref="RowBytes"/>) and BF16 scales (<see cref="BlockCount"/>).</summary>
    public static void QuantizeRow(ReadOnlySpan<float> row, Span<byte> planes, Span<ushort> scales) =>
        QuantizeRow(row, planes, scales, KernelPaths.Best);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void QuantizeRow(ReadOnlySpan<float> row, Span<byte> planes, Span<ushort> scales, KernelPath path)
    {
        if (planes.Length != RowBytes(row.Length) || scales.Length != BlockCount(row.Length))
            throw new ArgumentException(
                $"a row of {row.Length} entries quantises to {RowBytes(row.Length)} plane bytes and {BlockCount(row.Length)} scales, got {planes.Length} and {scales.Length}.");
        Span<sbyte> q = stackalloc sbyte[BlockLength];
        Span<byte> u = stackalloc byte[GroupLength];
        for (int g = 0; g < GroupCount(row.Length); g++)
        {
            for (int j = 0; j < BlocksPerGroup; j++)
            {
                int b = g * BlocksPerGroup + j, start = b * BlockLength, length = Math.Clamp(row.Length - start, 0, BlockLength);
                scales[b] = QuantizeBlock(row.Slice(Math.Min(start, row.Length), length), q[..length], path);
                q[length..].Clear();
                for (int i = 0; i < BlockLength; i++) u[GroupPosition(j * BlockLength + i)] = (byte)(q[i] + Offset);
            }
            Pack(u, planes.Slice(g * GroupBytes, GroupBytes));
        }
    }

    /// <summary>
    /// Bytes of a [<paramref name="rows"/>, <paramref name="columns"/>] matrix stored whole (<see cref="TensorType.Int6Blocks"/>):
    /// the planes of every row (<see cref="RowBytes"/> each), then the BF16 scales of every row (<see cref="BlockCount"/> each),
    /// so that a run of rows is one run of planes and one of scales, as <see cref="Int6BlockRows.DotRows(ReadOnlySpan{byte}, ReadOnlySpan{ushort}, ReadOnlySpan{sbyte}, ReadOnlySpan{float}, ReadOnlySpan{int}, Span{float})"/> reads them.
    /// </summary>
    public static long MatrixPlaneBytes(int rows, int columns) => rows * RowBytes(columns);

    /// <summary>Quantises every row of <paramref name="weight"/> (F32, F16 or BF16) into <paramref name="matrix"/>, laid out as <see cref="MatrixPlaneBytes"/> says.</summary>
    public static void QuantizeMatrix(TensorView weight, Span<byte> matrix) =>
        BlockMatrixLayout.Quantize(weight, matrix, TensorType.Int6Blocks, RowBytes(weight.Columns), BlockCount(weight.Columns), QuantizeRow);

    /// <summary>
    /// A row's entries from its planes and scales, W[i] = s_b·(u_i − 32) (the levels <see cref="QuantizeRow(ReadOnlySpan{float}, Span{byte}, Span{ushort})"/>
    /// chose, exactly): one token's embedding row. Reads 6.5 bits per entry, once per token, so a plain loop is enough.
    /// </summary>
    public static void DecodeRow(ReadOnlySpan<byte> planes, ReadOnlySpan<ushort> scales, Span<float> row)
    {
        if (planes.Length != RowBytes(row.Length) || scales.Length != BlockCount(row.Length))
            throw new ArgumentException(
                $"a row of {row.Length} entries is stored in {RowBytes(row.Length)} plane bytes and {BlockCount(row.Length)} scales, got {planes.Length} and {scales.Length}.");
        for (int i = 0; i < row.Length; i++)
        {
            var group = planes.Slice(i / GroupLength * GroupBytes, GroupBytes);
            row[i] = Scale(scales[i / BlockLength]) * (StoredLevel(group, GroupPosition(i % GroupLength)) - Offset);
        }
    }

    /// <summary>
    /// Quantises x to int8 blocks of 32 exactly as <see cref="Int8Blocks.Quantize(ReadOnlySpan{float}, Span{sbyte}, Span{float})"/>
    /// does, padded to whole groups (<see cref="PaddedLength"/> levels, <see cref="BlockCount"/> scales, zero in the
    /// padding), with the levels in the group order, and writes offsets[b] = 32·Σ_{i∈b} q_x[i]: what the stored u = q + 32
    /// adds to every block sum, subtracted once per block by the vector paths.
    /// </summary>
    public static void QuantizeInput(ReadOnlySpan<float> x, Span<sbyte> levels, Span<float> scales, Span<int> offsets) =>
        QuantizeInput(x, levels, scales, offsets, KernelPaths.Best);

    internal static void QuantizeInput(ReadOnlySpan<float> x, Span<sbyte> levels, Span<float> scales, Span<int> offsets, KernelPath path)
    {
        int blocks = BlockCount(x.Length);
        if (levels.Length != PaddedLength(x.Length) || scales.Length != blocks || offsets.Length != blocks)
            throw new ArgumentException(
                $"an input of {x.Length} entries quantises to {PaddedLength(x.Length)} levels and {blocks} scales and offsets, got {levels.Length}, {scales.Length} and {offsets.Length}.");
        Span<sbyte> q = stackalloc sbyte[BlockLength];
        for (int b = 0; b < blocks; b++)
        {
            int start = b * BlockLength, length = Math.Clamp(x.Length - start, 0, BlockLength);
            scales[b] = length == 0 ? 0 : Int8Blocks.QuantizeBlock(x.Slice(start, length), q[..length], path);
            q[length..].Clear();
            int sum = 0;
            foreach (sbyte level in q) sum += level;
            offsets[b] = Offset * sum;
            // Quad t of block j goes to 4 bytes at GroupPosition(32j + 4t).
            var group = levels.Slice(b / BlocksPerGroup * GroupLength, GroupLength);
            int j = b % BlocksPerGroup;
            for (int t = 0; t < BlockLength / 4; t++)
                MemoryMarshal.Write(MemoryMarshal.AsBytes(group[GroupPosition(j * BlockLength + 4 * t)..]),
                    MemoryMarshal.Read<int>(MemoryMarshal.AsBytes(q[(4 * t)..])));
        }
    }

    /// <summary>
    /// q = clamp(round(block/s), −31, 31) with s = max|block|/31 rounded up to a BF16, whose bits it returns. An
    /// all-zero block (or one whose scale would not be a normal float; NaN/∞ the model check rules out) has scale 0
    /// and zero levels.
    /// </summary>
    private static ushort QuantizeBlock(ReadOnlySpan<float> block, Span<sbyte> q, KernelPath path)
    {
        float max = block.IsEmpty ? 0 : MathF.Abs(TensorPrimitives.MaxMagnitude(block));
        uint bits = BitConverter.SingleToUInt32Bits(max / MaxLevel);
        if ((bits & 0xFFFF) != 0) bits = (bits + 0x10000) & 0xFFFF0000; // round up: |q| ≤ 31
        float scale = BitConverter.UInt32BitsToSingle(bits);
        if (!float.IsNormal(scale) || !float.IsFinite(max))
        {
            q.Clear();
            return 0;
        }
        float inverse = 1 / scale;
        int i = 0;
        if (path >= KernelPath.Vector256 && Vector256.IsHardwareAccelerated)
        {
            ref float x = ref MemoryMarshal.GetReference(block);
            ref sbyte z = ref MemoryMarshal.GetReference(q);
            var inverses = Vector256.Create(inverse);
            for (; i + 32 <= block.Length; i += 32)
            {
                var low = Vector256.Narrow(Level(ref x, i, inverses), Level(ref x, i + 8, inverses));
                var high = Vector256.Narrow(Level(ref x, i + 16, inverses), Level(ref x, i + 24, inverses));
                Vector256.Narrow(low, high).StoreUnsafe(ref z, (nuint)i);
            }
        }
        else if (path >= KernelPath.Vector128 && Vector128.IsHardwareAccelerated)
        {
            ref float x = ref MemoryMarshal.GetReference(block);
            ref sbyte z = ref MemoryMarshal.GetReference(q);
            var inverses = Vector128.Create(inverse);
            for (; i + 16 <= block.Length; i += 16)
            {
                var low = Vector128.Narrow(Level(ref x, i, inverses), Level(ref x, i + 4, inverses));
                var high = Vector128.Narrow(Level(ref x, i + 8, inverses), Level(ref x, i + 12, inverses));
                Vector128.Narrow(low, high).StoreUnsafe(ref z, (nuint)i);
            }
        }
        for (; i < block.Length; i++) q[i] = (sbyte)Math.Clamp(MathF.Round(block[i] * inverse), -MaxLevel, MaxLevel);
        return (ushort)(bits >> 16);
    }

    /// <summary>clamp(round(x·inverse), −31, 31) for four entries, as the scalar loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Level(ref float x, int i, Vector128<float> inverse)
    {
        var level = Vector128.Round(Vector128.LoadUnsafe(ref x, (nuint)i) * inverse);
        return Vector128.ConvertToInt32(Vector128.Min(Vector128.Max(level, Vector128.Create((float)-MaxLevel)), Vector128.Create((float)MaxLevel)));
    }

    /// <summary>clamp(round(x·inverse), −31, 31) for eight entries, as the scalar loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Level(ref float x, int i, Vector256<float> inverse)
    {
        var level = Vector256.Round(Vector256.LoadUnsafe(ref x, (nuint)i) * inverse);
        return Vector256.ConvertToInt32(Vector256.Min(Vector256.Max(level, Vector256.Create((float)-MaxLevel)), Vector256.Create((float)MaxLevel)));
    }

    /// <summary>The two planes of one group from its 256 stored levels u (≤ 63) in the group order.</summary>
    internal static void Pack(ReadOnlySpan<byte> u, Span<byte> group)
    {
        for (int p = 0; p < NibblePlaneBytes; p++) group[p] = (byte)(u[p] & 0xF | (u[p + NibblePlaneBytes] & 0xF) << 4);
        for (int p = 0; p < 64; p++)
            group[NibblePlaneBytes + p] = (byte)(u[p] >> 4 | u[p + 64] >> 4 << 2 | u[p + 128] >> 4 << 4 | u[p + 192] >> 4 << 6);
    }
}
