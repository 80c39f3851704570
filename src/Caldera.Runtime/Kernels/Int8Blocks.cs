using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// Symmetric int8 quantisation in blocks of 32 entries (GGML's Q8_0 with float scales), the storage of
/// <see cref="Int8BlockRows"/> for both the weight rows and the activation:
///   v_i ≈ s_b·q_i  for i in block b = [32b, 32b + 32),   s_b = max_{i∈b} |v_i| / 127,   q_i = round(v_i / s_b) ∈ [−127, 127]
/// q is padded with zeros to whole blocks (⌈n/32⌉·32 entries), so every block is one 256-bit register.
/// </summary>
/// <remarks>
/// Error bound: |v_i − s_b·q_i| ≤ s_b/2 = max_b|v|/254 per entry (round to nearest, ties to even, as
/// <see cref="Int8Activations"/>). Blocks of 32 rather than <see cref="Int8Activations"/>' 256: the classifier's
/// weights and its input (the final RMS-normed state) are not incoherence-processed, so a single large entry would
/// otherwise coarsen 255 others; at 32 a block costs one float (1 bit per weight) and exactly one vpdpbusd.
/// </remarks>
internal static class Int8Blocks
{
    /// <summary>Entries that share one scale.</summary>
    public const int BlockLength = 32;

    /// <summary>Scales for a vector of <paramref name="length"/> entries.</summary>
    public static int BlockCount(int length) => (length + BlockLength - 1) / BlockLength;

    /// <summary>Levels for a vector of <paramref name="length"/> entries: whole blocks, zero padded.</summary>
    public static int PaddedLength(int length) => BlockCount(length) * BlockLength;

    /// <summary>Writes q (<see cref="PaddedLength"/> entries) and the block scales (<see cref="BlockCount"/>) of <paramref name="v"/>.</summary>
    public static void Quantize(ReadOnlySpan<float> v, Span<sbyte> q, Span<float> scales) => Quantize(v, q, scales, KernelPaths.Best);

    internal static void Quantize(ReadOnlySpan<float> v, Span<sbyte> q, Span<float> scales, KernelPath path)
    {
        if (q.Length != PaddedLength(v.Length) || scales.Length != BlockCount(v.Length))
            throw new ArgumentException($"a vector of {v.Length} entries quantises to {PaddedLength(v.Length)} levels and {BlockCount(v.Length)} scales, got {q.Length} and {scales.Length}.");
        for (int b = 0; b < scales.Length; b++)
        {
            int start = b * BlockLength, length = Math.Min(BlockLength, v.Length - start);
            scales[b] = QuantizeBlock(v.Slice(start, length), q.Slice(start, length), path);
        }
        q[v.Length..].Clear();
    }

    /// <summary>
    /// levels[i] = round(block[i] / s) with s = max|block| / 127, returned: one block of any length (the quantiser of
    /// this type and of <see cref="Int8Activations"/>). An all-zero block (or a NaN/∞ one, which the model check rules
    /// out) has scale 0 and zero levels.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float QuantizeBlock(ReadOnlySpan<float> block, Span<sbyte> levels, KernelPath path)
    {
        float max = MathF.Abs(TensorPrimitives.MaxMagnitude(block)); // the entry of largest magnitude, signed
        bool usable = max > 0 && float.IsFinite(max);
        float inverse = usable ? Int8Activations.MaxLevel / max : 0;
        int i = 0, length = block.Length;
        if (path >= KernelPath.Vector256 && Vector256.IsHardwareAccelerated)
        {
            ref float x = ref MemoryMarshal.GetReference(block);
            ref sbyte z = ref MemoryMarshal.GetReference(levels);
            var scale = Vector256.Create(inverse);
            for (; i + 32 <= length; i += 32)
            {
                var low = Vector256.Narrow(Level(ref x, i, scale), Level(ref x, i + 8, scale));
                var high = Vector256.Narrow(Level(ref x, i + 16, scale), Level(ref x, i + 24, scale));
                Vector256.Narrow(low, high).StoreUnsafe(ref z, (nuint)i);
            }
        }
        else if (path >= KernelPath.Vector128 && Vector128.IsHardwareAccelerated)
        {
            ref float x = ref MemoryMarshal.GetReference(block);
            ref sbyte z = ref MemoryMarshal.GetReference(levels);
            var scale = Vector128.Create(inverse);
            for (; i + 16 <= length; i += 16)
            {
                var low = Vector128.Narrow(Level(ref x, i, scale), Level(ref x, i + 4, scale));
                var high = Vector128.Narrow(Level(ref x, i + 8, scale), Level(ref x, i + 12, scale));
                Vector128.Narrow(low, high).StoreUnsafe(ref z, (nuint)i);
            }
        }
        for (; i < length; i++) levels[i] = (sbyte)MathF.Round(block[i] * inverse);
        return usable ? max / Int8Activations.MaxLevel : 0;
    }

    /// <summary>round(x·(127/max)) for four entries, as the eight below.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Level(ref float x, int i, Vector128<float> inverse) =>
        Vector128.ConvertToInt32(Vector128.Round(Vector128.LoadUnsafe(ref x, (nuint)i) * inverse));

    /// <summary>round(x·(127/max)) for eight entries: |x·(127/max)| ≤ 127 (within an ulp), so the conversion never saturates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Level(ref float x, int i, Vector256<float> inverse) =>
        Vector256.ConvertToInt32(Vector256.Round(Vector256.LoadUnsafe(ref x, (nuint)i) * inverse));
}
