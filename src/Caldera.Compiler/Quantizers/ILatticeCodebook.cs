namespace Caldera.Compiler.Quantizers;

/// <summary>
/// A vector codebook over 8-vectors that rounds a row to its nearest codewords: the operation BlockLDLQ
/// calls block by block and the matrix quantizers call row by row.
/// </summary>
/// <remarks>
/// A row of n weights is cut into ⌈n/8⌉ consecutive 8-vectors. When n is not a multiple of 8 the last vector
/// is partial: its missing coordinates are free (never read back), so the search minimises the error of the
/// present coordinates only, and the stored codeword is a full 8-vector whose pad entries are ignored.
/// </remarks>
internal interface ILatticeCodebook
{
    /// <summary>16-bit code words stored per 8-vector.</summary>
    int WordsPerVector { get; }

    /// <summary>Storage cost per weight (16·<see cref="WordsPerVector"/>/8).</summary>
    double BitsPerWeight { get; }

    /// <summary>
    /// Rounds <paramref name="x"/> (any length n) to the nearest codewords: writes the rounded values to
    /// <paramref name="q"/> (length n) and ⌈n/8⌉·<see cref="WordsPerVector"/> words to <paramref name="words"/>.
    /// </summary>
    void QuantizeRow(ReadOnlySpan<float> x, Span<float> q, Span<ushort> words);

    /// <summary>
    /// Rounds whole 8-vectors (x.Length a multiple of 8) as <see cref="QuantizeRow"/> does and writes, per vector, a
    /// <see cref="SearchCertificate"/>: every input x' it covers rounds to the same words. Callers that re-round slowly
    /// moving targets (BlockLDLQ's sweeps) skip the search while it covers the target. A codebook without such a
    /// certificate reports <see cref="SearchCertificate.None"/>: only x itself (the search is deterministic).
    /// </summary>
    void QuantizeCertified(ReadOnlySpan<float> x, Span<float> q, Span<ushort> words, Span<SearchCertificate> certificates)
    {
        QuantizeRow(x, q, words);
        certificates[..(x.Length / 8)].Fill(SearchCertificate.None);
    }

    /// <summary>Decodes ⌈n/8⌉·<see cref="WordsPerVector"/> words into <paramref name="y"/> (length n).</summary>
    void DecodeRow(ReadOnlySpan<ushort> words, Span<float> y);
}
