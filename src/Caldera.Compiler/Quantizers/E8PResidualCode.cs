using System.Buffers;
using Caldera.Runtime.Compression;

namespace Caldera.Compiler.Quantizers;

/// <summary>
/// The 4-bit residual E8P code (E8P12RVQ4B): 8 weights → two E8P codes, 32 bits.
///   q₁ = NN(x),  q₂ = NN(ρ·(x − q₁)),  x̂ = q₁ + q₂/ρ,  ρ = <see cref="ResidualScale"/>.
/// </summary>
/// <remarks>
/// A packed code holds q₁'s code in the low 16 bits and q₂'s in the high 16 bits; as row words, q₁'s code
/// comes first. The layout and decoding are defined once, in the runtime's <see cref="E8PResidualLattice"/>;
/// this class adds the encoder. Both stages are exact nearest-neighbour searches, so the error is that of a greedy two-stage
/// residual quantizer, not of the joint optimum over both codes.
/// </remarks>
internal sealed class E8PResidualCode : ILatticeCodebook
{
    public const int Dimension = E8PCodebook.Dimension;

    /// <summary>Gain on the first-stage residual before it is rounded again (QuIP#'s `opt_resid_scale`).</summary>
    public const float ResidualScale = E8PResidualLattice.ResidualScale;

    private E8PResidualCode() { }

    /// <summary>The code as an <see cref="ILatticeCodebook"/>.</summary>
    public static E8PResidualCode Instance { get; } = new();

    public int WordsPerVector => 2;
    public double BitsPerWeight => 4;

    /// <summary>Rounds <paramref name="x8"/> with both stages; writes x̂ to <paramref name="q8"/>; returns the packed code.</summary>
    public static uint Quantize(ReadOnlySpan<float> x8, Span<float> q8)
    {
        if (x8.Length != Dimension) throw new ArgumentException($"x8 needs exactly {Dimension} entries, got {x8.Length}.", nameof(x8));
        if (q8.Length < Dimension) throw new ArgumentException($"q8 needs {Dimension} entries, got {q8.Length}.", nameof(q8));
        Span<ushort> words = stackalloc ushort[2];
        QuantizeRow(x8, q8[..Dimension], words);
        return (uint)(words[0] | words[1] << 16);
    }

    /// <summary>Writes x̂ = q₁ + q₂/ρ of a packed code to <paramref name="y8"/>.</summary>
    public static void Decode(uint code, Span<float> y8) => E8PResidualLattice.Decode(code, y8);

    /// <summary>Rounds a row of any length n to ⌈n/8⌉ pairs of codes (q₁'s code, then q₂'s).</summary>
    /// <remarks>
    /// Each stage rounds the whole row at once, so full 8-vectors go through the batched class search; every search
    /// is exact, so the codes are those of rounding one vector at a time.
    /// </remarks>
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<float> q, Span<ushort> words)
    {
        int vectors = E8PCodebook.VectorCount(x.Length);
        if (q.Length != x.Length) throw new ArgumentException($"q has {q.Length} entries, x has {x.Length}; they must match.", nameof(q));
        if (words.Length < 2 * vectors) throw new ArgumentException($"words needs {2 * vectors} entries for a row of {x.Length}, got {words.Length}.", nameof(words));
        float[] firstBuffer = ArrayPool<float>.Shared.Rent(2 * x.Length);
        ushort[] codeBuffer = ArrayPool<ushort>.Shared.Rent(2 * vectors);
        Span<float> first = firstBuffer.AsSpan(0, x.Length), residual = firstBuffer.AsSpan(x.Length, x.Length);
        Span<ushort> firstCodes = codeBuffer.AsSpan(0, vectors), secondCodes = codeBuffer.AsSpan(vectors, vectors);
        E8PCodebook.QuantizeRow(x, first, firstCodes);
        for (int i = 0; i < x.Length; i++) residual[i] = ResidualScale * (x[i] - first[i]);
        // The second stage's codeword lands in q; x̂ = q₁ + q₂/ρ is formed in place.
        E8PCodebook.QuantizeRow(residual, q, secondCodes);
        E8PResidualLattice.Combine(first, q, q);
        for (int v = 0; v < vectors; v++)
        {
            words[2 * v] = firstCodes[v];
            words[2 * v + 1] = secondCodes[v];
        }
        ArrayPool<float>.Shared.Return(firstBuffer);
        ArrayPool<ushort>.Shared.Return(codeBuffer);
    }

    /// <summary>Decodes ⌈n/8⌉ code pairs into a row of length n.</summary>
    public static void DecodeRow(ReadOnlySpan<ushort> words, Span<float> y) => E8PResidualLattice.DecodeRow(words, y);

    void ILatticeCodebook.QuantizeRow(ReadOnlySpan<float> x, Span<float> q, Span<ushort> words) => QuantizeRow(x, q, words);
    void ILatticeCodebook.DecodeRow(ReadOnlySpan<ushort> words, Span<float> y) => DecodeRow(words, y);
}
