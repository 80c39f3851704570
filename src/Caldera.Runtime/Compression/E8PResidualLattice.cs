namespace Caldera.Runtime.Compression;

/// <summary>
/// Decoding of the 4-bit residual E8P code (E8P12RVQ4B): 8 weights ↔ two E8P words, 32 bits.
///   x̂ = q₁ + q₂/ρ,  ρ = <see cref="ResidualScale"/>,  q₁ = decode(word 1), q₂ = decode(word 2).
/// </summary>
/// <remarks>
/// The encoder rounds q₁ = NN(x) and then q₂ = NN(ρ·(x − q₁)). A packed 32-bit code holds q₁'s word in the low
/// 16 bits and q₂'s in the high 16; in a row of words, q₁'s word comes first.
/// </remarks>
internal static class E8PResidualLattice
{
    public const int Dimension = E8PLattice.Dimension;

    /// <summary>16-bit words per 8-vector.</summary>
    public const int WordsPerVector = 2;

    /// <summary>Gain on the first-stage residual before it is rounded again (QuIP#'s `opt_resid_scale`).</summary>
    public const float ResidualScale = 3.45f;

    /// <summary>Words a row of <paramref name="length"/> weights occupies: 2·⌈n/8⌉.</summary>
    public static int WordCount(int length) => WordsPerVector * E8PLattice.VectorCount(length);

    /// <summary>Writes x̂ = q₁ + q₂/ρ of a packed code to <paramref name="y8"/>.</summary>
    public static void Decode(uint code, Span<float> y8)
    {
        if (y8.Length < Dimension) throw new ArgumentException($"y8 needs {Dimension} entries, got {y8.Length}.", nameof(y8));
        Combine(E8PLattice.DecodeTable.Slice((int)(code & 0xFFFF) * Dimension, Dimension),
            E8PLattice.DecodeTable.Slice((int)(code >> 16) * Dimension, Dimension), y8[..Dimension]);
    }

    /// <summary>Decodes ⌈n/8⌉ word pairs (q₁'s word, then q₂'s) into a row of length n.</summary>
    public static void DecodeRow(ReadOnlySpan<ushort> words, Span<float> y)
    {
        int vectors = E8PLattice.VectorCount(y.Length);
        if (words.Length < 2 * vectors) throw new ArgumentException($"words needs {2 * vectors} entries for a row of {y.Length}, got {words.Length}.", nameof(words));
        ReadOnlySpan<float> table = E8PLattice.DecodeTable;
        for (int v = 0; v < vectors; v++)
        {
            int start = v * Dimension;
            int length = Math.Min(Dimension, y.Length - start);
            Combine(table.Slice(words[2 * v] * Dimension, length), table.Slice(words[2 * v + 1] * Dimension, length), y.Slice(start, length));
        }
    }

    /// <summary>x̂ = q₁ + q₂/ρ; the one place encoder and decoders compute it, so they agree bit for bit.</summary>
    internal static void Combine(ReadOnlySpan<float> first, ReadOnlySpan<float> second, Span<float> result)
    {
        for (int i = 0; i < result.Length; i++) result[i] = first[i] + second[i] / ResidualScale;
    }
}
