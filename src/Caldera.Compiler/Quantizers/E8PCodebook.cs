using Caldera.Runtime.Compression;

namespace Caldera.Compiler.Quantizers;

/// <summary>
/// The E8P 2-bit lattice codebook: 8 weights → one 16-bit code. Codewords are C = {y ± ¼·𝟙 : y ∈ Y}, where
/// Y ⊂ (ℤ+½)⁸ with Σy even holds 256 absolute-value patterns under their 128 parity-valid sign patterns,
/// so |C| = 2¹⁶.
/// </summary>
/// <remarks>
/// The patterns, the code-word layout and decoding are defined once, in the runtime's <see cref="E8PLattice"/>
/// (inference decodes the same words); this class adds the exact nearest-neighbour search
/// (<see cref="E8PNearest"/>) and delegates everything else.
/// </remarks>
internal sealed class E8PCodebook : ILatticeCodebook
{
    public const int Dimension = E8PLattice.Dimension;
    public const int CodeCount = E8PLattice.CodeCount;
    public const float Shift = E8PLattice.Shift;

    /// <summary>The scale that makes unit-RMS Gaussian data fill the codebook best (QuIP#'s `opt_scale`).</summary>
    public const float OptimalInputRms = 1.03f;

    private E8PCodebook() { }

    /// <summary>The codebook as an <see cref="ILatticeCodebook"/>.</summary>
    public static E8PCodebook Instance { get; } = new();

    public int WordsPerVector => 1;
    public double BitsPerWeight => 2;

    /// <summary>Every codeword: code c decodes to entries [8c, 8c+8). 2 MiB; for table-driven decoders.</summary>
    public static ReadOnlySpan<float> DecodeTable => E8PLattice.DecodeTable;

    /// <summary>Pattern p's absolute values, entry i at [8p + i].</summary>
    internal static ReadOnlySpan<float> AbsolutePatterns => E8PLattice.AbsolutePatterns;

    /// <summary>Writes codeword <paramref name="code"/> to <paramref name="y8"/>.</summary>
    public static void Decode(ushort code, Span<float> y8) => E8PLattice.Decode(code, y8);

    /// <summary>
    /// Exact nearest codeword to <paramref name="x8"/> in Euclidean distance; writes it to <paramref name="q8"/>
    /// and returns its code. Ties go to the lowest (shift, pattern) candidate.
    /// </summary>
    public static ushort Quantize(ReadOnlySpan<float> x8, Span<float> q8)
    {
        if (x8.Length != Dimension) throw new ArgumentException($"x8 needs exactly {Dimension} entries, got {x8.Length}.", nameof(x8));
        if (q8.Length < Dimension) throw new ArgumentException($"q8 needs {Dimension} entries, got {q8.Length}.", nameof(q8));
        RequireFinite(x8, nameof(x8));
        return E8PNearest.Quantize(x8, q8);
    }

    /// <summary>
    /// Rounds a row of any length n to ⌈n/8⌉ codes; a partial last vector is searched on its present
    /// coordinates only (see <see cref="ILatticeCodebook"/>).
    /// </summary>
    public static void QuantizeRow(ReadOnlySpan<float> x, Span<float> q, Span<ushort> codes)
    {
        int vectors = VectorCount(x.Length);
        if (q.Length != x.Length) throw new ArgumentException($"q has {q.Length} entries, x has {x.Length}; they must match.", nameof(q));
        if (codes.Length < vectors) throw new ArgumentException($"codes needs {vectors} entries for a row of {x.Length}, got {codes.Length}.", nameof(codes));
        RequireFinite(x, nameof(x));
        int full = x.Length / Dimension;
        E8PNearest.QuantizeMany(x[..(full * Dimension)], q, codes);
        if (full < vectors)
            codes[full] = E8PNearest.QuantizePartial(x[(full * Dimension)..], q[(full * Dimension)..]);
    }

    /// <summary>
    /// Rounds full 8-vectors as <see cref="QuantizeRow"/> does and writes each one's <see cref="E8PSearchCertificate"/>:
    /// every input it covers rounds to the same code.
    /// </summary>
    public static void QuantizeCertified(ReadOnlySpan<float> x, Span<float> q, Span<ushort> codes, Span<SearchCertificate> certificates)
    {
        int vectors = x.Length / Dimension;
        if (x.Length % Dimension != 0) throw new ArgumentException($"x has {x.Length} entries, not whole 8-vectors.", nameof(x));
        if (q.Length != x.Length) throw new ArgumentException($"q has {q.Length} entries, x has {x.Length}; they must match.", nameof(q));
        if (codes.Length < vectors || certificates.Length < vectors)
            throw new ArgumentException($"codes and certificates need {vectors} entries, got {codes.Length} and {certificates.Length}.", nameof(codes));
        RequireFinite(x, nameof(x));
        E8PNearest.QuantizeCertified(x, q, codes, certificates);
    }

    /// <summary>Decodes ⌈n/8⌉ codes into a row of length n (pad entries of the last codeword dropped).</summary>
    public static void DecodeRow(ReadOnlySpan<ushort> codes, Span<float> y) => E8PLattice.DecodeRow(codes, y);

    void ILatticeCodebook.QuantizeRow(ReadOnlySpan<float> x, Span<float> q, Span<ushort> words) => QuantizeRow(x, q, words);
    void ILatticeCodebook.DecodeRow(ReadOnlySpan<ushort> words, Span<float> y) => DecodeRow(words, y);
    void ILatticeCodebook.QuantizeCertified(ReadOnlySpan<float> x, Span<float> q, Span<ushort> words, Span<SearchCertificate> certificates) =>
        QuantizeCertified(x, q, words, certificates);

    /// <summary>⌈n/8⌉: the number of 8-vectors a row of <paramref name="length"/> weights occupies.</summary>
    public static int VectorCount(int length) => E8PLattice.VectorCount(length);

    /// <summary>
    /// Builds a code from a pattern, the negative mask of all 8 coordinates (must satisfy the parity rule) and
    /// the shift index, writing the codeword itself to <paramref name="q"/> (the first q.Length entries).
    /// </summary>
    internal static ushort Compose(int pattern, int negativeMask, int shiftIndex, Span<float> q) =>
        E8PLattice.Compose(pattern, negativeMask, shiftIndex, q);

    /// <summary>The 16-bit code of a pattern, its sign mask and shift (what <see cref="Compose"/> returns).</summary>
    internal static ushort Code(int pattern, int negativeMask, int shiftIndex) => E8PLattice.Code(pattern, negativeMask, shiftIndex);

    /// <summary>Whether Σp of pattern p is odd, which decides the implied sign of coordinate 7.</summary>
    internal static bool IsPatternSumOdd(int pattern) => E8PLattice.IsPatternSumOdd(pattern);

    internal static float ShiftValue(int shiftIndex) => E8PLattice.ShiftValue(shiftIndex);

    private static void RequireFinite(ReadOnlySpan<float> x, string name)
    {
        for (int i = 0; i < x.Length; i++)
            if (!float.IsFinite(x[i]))
                throw new ArgumentException($"{name}[{i}] is {x[i]}; E8P quantization needs finite values (check the matrix for NaN/Inf).", name);
    }
}
