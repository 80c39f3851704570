using System.Runtime.CompilerServices;
using Caldera.Runtime.Compression;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// Symmetric block quantisation of a transformed activation u to int8, the input of <see cref="Int8CodedRows"/>:
///   u_i ≈ s_b·q_i  for i in block b = [256b, 256b + 256),   s_b = max_{i∈b} |u_i| / 127,   q_i = round(u_i / s_b) ∈ [−127, 127]
/// q is padded with zeros to ⌈n/8⌉·8 entries, so every E8P word of a row meets eight entries of q.
/// </summary>
/// <remarks>
/// Error bound: |u_i − s_b·q_i| ≤ s_b/2 = max_b|u|/254 per entry (round to nearest). u is incoherence-processed (a
/// randomized Hadamard spreads every input over all entries), so its entries are near-Gaussian and max_b|u| ≈ 3σ over
/// 256 entries: the rounding noise is ≈ 0.7 % of σ per entry, far below the 2-bit code's own error. Blocks of 256
/// (32 words) amortise one float multiply-add per block and row in the kernel; they must stay a multiple of 32
/// entries (one 256-bit register of q) so a block never splits a vector load.
/// </remarks>
internal static class Int8Activations
{
    /// <summary>Entries of u that share one scale.</summary>
    public const int BlockLength = 256;

    /// <summary>The largest |q|: symmetric, so −q never overflows and the sign trick of the kernel stays exact.</summary>
    public const int MaxLevel = 127;

    /// <summary>Scales for a vector of <paramref name="length"/> entries.</summary>
    public static int BlockCount(int length) => (length + BlockLength - 1) / BlockLength;

    /// <summary>Entries of q for a vector of <paramref name="length"/> entries: whole E8P words, zero padded.</summary>
    public static int PaddedLength(int length) => E8PLattice.VectorCount(length) * E8PLattice.Dimension;

    /// <summary>Writes q (<see cref="PaddedLength"/> entries) and the block scales (<see cref="BlockCount"/>) of <paramref name="u"/>.</summary>
    public static void Quantize(ReadOnlySpan<float> u, Span<sbyte> q, Span<float> scales) => Quantize(u, q, scales, KernelPaths.Best);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Quantize(ReadOnlySpan<float> u, Span<sbyte> q, Span<float> scales, KernelPath path)
    {
        if (q.Length != PaddedLength(u.Length) || scales.Length != BlockCount(u.Length))
            throw new ArgumentException($"u of {u.Length} entries quantises to {PaddedLength(u.Length)} levels and {BlockCount(u.Length)} scales, got {q.Length} and {scales.Length}.");
        for (int b = 0; b < scales.Length; b++)
        {
            int start = b * BlockLength, length = Math.Min(BlockLength, u.Length - start);
            scales[b] = Int8Blocks.QuantizeBlock(u.Slice(start, length), q.Slice(start, length), path);
        }
        q[u.Length..].Clear();
    }
}
