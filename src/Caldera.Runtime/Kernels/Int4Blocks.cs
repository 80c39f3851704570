using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// Symmetric 4-bit quantisation of weight rows in blocks of 32, for the token embedding (one row read per token):
///   W[r, i] ≈ s_b·q_i  for i in block b,   q_i = clamp(round(W[r, i]/s_b), −8, 7),   s_b a BF16
/// stored as u = q + 8 ∈ [0, 15] in 4 bits, 16 bytes per block (Q4_0's order: byte k holds column k in its low nibble
/// and column k + 16 in its high one), plus the BF16 scale: 4.5 bits per weight. Rows are padded with zero weights to
/// whole blocks only, so a 64-wide row (stories260K) takes 36 bytes where <see cref="Int6Blocks"/>' groups of 256 take 208.
/// </summary>
/// <remarks>
/// The scale is the one of a few candidates, max|block|/d for d from 6.5 to 8.5, that gives the block the least squared
/// error (llama.cpp's quantisers search their scales the same way): with 16 levels the plain max/7 leaves level −8 unused
/// and a step an eighth wider than it needs to be. The max/7 scale rounded up (no clamping at all) is always among the
/// candidates, so the search is never worse than it. A BF16 scale decodes with one shift.
/// </remarks>
internal static class Int4Blocks
{
    /// <summary>Entries that share one scale.</summary>
    public const int BlockLength = 32;

    /// <summary>Bytes of one block's levels: 4 bits per entry.</summary>
    public const int BlockBytes = BlockLength / 2;

    /// <summary>The largest q; the smallest is −<see cref="Offset"/>.</summary>
    public const int MaxLevel = 7;

    /// <summary>u = q + Offset is what is stored.</summary>
    public const int Offset = 8;

    /// <summary>Scales of a row of <paramref name="length"/> entries, the padding block included.</summary>
    public static int BlockCount(int length) => (length + BlockLength - 1) / BlockLength;

    /// <summary>Level bytes of a row of <paramref name="length"/> entries.</summary>
    public static long RowBytes(int length) => (long)BlockCount(length) * BlockBytes;

    /// <summary>Bytes of the levels of a [<paramref name="rows"/>, <paramref name="columns"/>] matrix; its scales follow them.</summary>
    public static long MatrixPlaneBytes(int rows, int columns) => rows * RowBytes(columns);

    /// <summary>Writes a row's levels (<see cref="RowBytes"/>) and BF16 scales (<see cref="BlockCount"/>).</summary>
    public static void QuantizeRow(ReadOnlySpan<float> row, Span<byte> levels, Span<ushort> scales)
    {
        if (levels.Length != RowBytes(row.Length) || scales.Length != BlockCount(row.Length))
            throw new ArgumentException(
                $"a row of {row.Length} entries quantises to {RowBytes(row.Length)} level bytes and {BlockCount(row.Length)} scales, got {levels.Length} and {scales.Length}.");
        Span<byte> u = stackalloc byte[BlockLength];
        for (int b = 0; b < scales.Length; b++)
        {
            int start = b * BlockLength, length = Math.Min(row.Length - start, BlockLength);
            var block = row.Slice(start, length);
            scales[b] = BlockScale(block);
            float scale = Scale(scales[b]), inverse = scale == 0 ? 0 : 1 / scale;
            u.Fill(Offset);
            for (int i = 0; i < length; i++) u[i] = (byte)(Level(block[i], inverse) + Offset);
            var bytes = levels.Slice(b * BlockBytes, BlockBytes);
            for (int k = 0; k < BlockBytes; k++) bytes[k] = (byte)(u[k] | u[k + BlockBytes] << 4);
        }
    }

    /// <summary>Quantises every row of <paramref name="weight"/> (F32, F16 or BF16) into <paramref name="matrix"/>: every row's levels, then every row's scales.</summary>
    public static void QuantizeMatrix(TensorView weight, Span<byte> matrix) =>
        BlockMatrixLayout.Quantize(weight, matrix, TensorType.Int4Blocks, RowBytes(weight.Columns), BlockCount(weight.Columns), QuantizeRow);

    /// <summary>The float value of a stored BF16 scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Scale(ushort bf16) => BitConverter.UInt32BitsToSingle((uint)bf16 << 16);

    /// <summary>A row's entries from its levels and scales, W[i] = s_b·(u_i − 8): one token's embedding row.</summary>
    public static void DecodeRow(ReadOnlySpan<byte> levels, ReadOnlySpan<ushort> scales, Span<float> row) =>
        DecodeRow(levels, scales, row, KernelPaths.Best);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void DecodeRow(ReadOnlySpan<byte> levels, ReadOnlySpan<ushort> scales, Span<float> row, KernelPath path)
    {
        if (levels.Length != RowBytes(row.Length) || scales.Length != BlockCount(row.Length))
            throw new ArgumentException(
                $"a row of {row.Length} entries is stored in {RowBytes(row.Length)} level bytes and {BlockCount(row.Length)} scales, got {levels.Length} and {scales.Length}.");
        int b = 0;
        if (path >= KernelPath.Vector256 && Vector256.IsHardwareAccelerated)
            for (; (b + 1) * BlockLength <= row.Length; b++) DecodeBlock256(levels.Slice(b * BlockBytes, BlockBytes), Scale(scales[b]), row.Slice(b * BlockLength, BlockLength));
        else if (path >= KernelPath.Vector128 && Vector128.IsHardwareAccelerated)
            for (; (b + 1) * BlockLength <= row.Length; b++) DecodeBlock128(levels.Slice(b * BlockBytes, BlockBytes), Scale(scales[b]), row.Slice(b * BlockLength, BlockLength));
        for (int i = b * BlockLength; i < row.Length; i++)
        {
            int k = i % BlockLength;
            byte pair = levels[i / BlockLength * BlockBytes + k % BlockBytes];
            int u = k < BlockBytes ? pair & 0xF : pair >> 4;
            row[i] = Scale(scales[i / BlockLength]) * (u - Offset);
        }
    }

    /// <summary>One whole block: low nibbles are columns 0…15, high nibbles 16…31, each (u − 8)·s exactly as the scalar loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void DecodeBlock256(ReadOnlySpan<byte> block, float scale, Span<float> destination)
    {
        var bytes = Vector128.Create(block);
        var scales = Vector256.Create(scale);
        ref float y = ref MemoryMarshal.GetReference(destination);
        Store256(bytes & Vector128.Create((byte)0xF), scales, ref y, 0);
        Store256(Vector128.ShiftRightLogical(bytes, 4), scales, ref y, BlockBytes);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256(Vector128<byte> u, Vector256<float> scale, ref float y, int at)
    {
        var words = Vector256.Create(Vector128.WidenLower(u), Vector128.WidenUpper(u)).AsInt16() - Vector256.Create((short)Offset);
        (Vector256.ConvertToSingle(Vector256.WidenLower(words)) * scale).StoreUnsafe(ref y, (nuint)at);
        (Vector256.ConvertToSingle(Vector256.WidenUpper(words)) * scale).StoreUnsafe(ref y, (nuint)(at + 8));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void DecodeBlock128(ReadOnlySpan<byte> block, float scale, Span<float> destination)
    {
        var bytes = Vector128.Create(block);
        var scales = Vector128.Create(scale);
        ref float y = ref MemoryMarshal.GetReference(destination);
        Store128(bytes & Vector128.Create((byte)0xF), scales, ref y, 0);
        Store128(Vector128.ShiftRightLogical(bytes, 4), scales, ref y, BlockBytes);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store128(Vector128<byte> u, Vector128<float> scale, ref float y, int at)
    {
        var offset = Vector128.Create((short)Offset);
        var low = Vector128.WidenLower(u).AsInt16() - offset;
        var high = Vector128.WidenUpper(u).AsInt16() - offset;
        (Vector128.ConvertToSingle(Vector128.WidenLower(low)) * scale).StoreUnsafe(ref y, (nuint)at);
        (Vector128.ConvertToSingle(Vector128.WidenUpper(low)) * scale).StoreUnsafe(ref y, (nuint)(at + 4));
        (Vector128.ConvertToSingle(Vector128.WidenLower(high)) * scale).StoreUnsafe(ref y, (nuint)(at + 8));
        (Vector128.ConvertToSingle(Vector128.WidenUpper(high)) * scale).StoreUnsafe(ref y, (nuint)(at + 12));
    }

    /// <summary>q = clamp(round(w/s), −8, 7) given 1/s.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int Level(float w, float inverse) => (int)Math.Clamp(MathF.Round(w * inverse), -Offset, MaxLevel);

    /// <summary>
    /// The BF16 scale (as bits) of the least squared error among max|block|/d, d = 6.5, 6.625, …, 8.5 (rounded to the
    /// nearest BF16) and max/7 rounded up; 0 for an all-zero block or one whose scale would not be a normal float (NaN/∞
    /// the model check rules out).
    /// </summary>
    internal static ushort BlockScale(ReadOnlySpan<float> block)
    {
        float max = MathF.Abs(TensorPrimitives.MaxMagnitude(block));
        uint bits = BitConverter.SingleToUInt32Bits(max / MaxLevel);
        if ((bits & 0xFFFF) != 0) bits = (bits + 0x10000) & 0xFFFF0000; // round up: no weight is clamped
        if (!float.IsNormal(BitConverter.UInt32BitsToSingle(bits)) || !float.IsFinite(max)) return 0;
        ushort best = (ushort)(bits >> 16);
        float bestError = SquaredError(block, best);
        for (int step = 0; step <= 16; step++)
        {
            uint candidate = BitConverter.SingleToUInt32Bits(max / (6.5f + step / 8f));
            ushort rounded = (ushort)((candidate + 0x7FFF + (candidate >> 16 & 1)) >> 16); // to the nearest BF16, ties to even
            if (!float.IsNormal(Scale(rounded))) continue;
            float error = SquaredError(block, rounded);
            if (error < bestError) (best, bestError) = (rounded, error);
        }
        return best;
    }

    /// <summary>Σ (w − s·q)² over the block with scale <paramref name="bf16"/>.</summary>
    internal static float SquaredError(ReadOnlySpan<float> block, ushort bf16)
    {
        float scale = Scale(bf16), inverse = 1 / scale, error = 0;
        foreach (float w in block)
        {
            float d = w - scale * Level(w, inverse);
            error += d * d;
        }
        return error;
    }
}
