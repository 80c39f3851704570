using System.Numerics;

namespace Caldera.Compiler.Quantizers;

/// <summary>
/// The E8P 2-bit lattice codebook: 8 weights → one 16-bit code. Codewords are C = {y ± ¼·𝟙 : y ∈ Y}, where
/// Y ⊂ (ℤ+½)⁸ with Σy even holds the 256 absolute-value patterns of <see cref="E8PPatterns"/> under their
/// 128 parity-valid sign patterns, so |C| = 2¹⁶.
/// </summary>
/// <remarks>
/// Code layout (ours): bits 15–8 = pattern index p; bits 7–1 = signs of coordinates 6…0 (bit i+1 set ⇔
/// coordinate i negative); bit 0 = shift (0 → +¼, 1 → −¼). The sign of coordinate 7 is not stored: Σ sᵢpᵢ
/// must be even, and since 2pᵢ is odd, flipping any sign toggles that parity, so it is fixed by the other
/// seven (negative ⇔ popcount(signs 0–6) + Σp is odd).
/// Nearest-neighbour search is exact (see <see cref="E8PNearest"/>).
/// </remarks>
public sealed class E8PCodebook : ILatticeCodebook
{
    public const int Dimension = 8;
    public const int CodeCount = 1 << 16;
    public const float Shift = 0.25f;

    /// <summary>The scale that makes unit-RMS Gaussian data fill the codebook best (QuIP#'s `opt_scale`).</summary>
    public const float OptimalInputRms = 1.03f;

    private static readonly float[] Patterns = E8PPatterns.Build();
    private static readonly byte[] PatternSumIsOdd = BuildPatternSumParity();
    private static readonly float[] Table = BuildDecodeTable();

    private E8PCodebook() { }

    /// <summary>The codebook as an <see cref="ILatticeCodebook"/>.</summary>
    public static E8PCodebook Instance { get; } = new();

    public int WordsPerVector => 1;
    public double BitsPerWeight => 2;

    /// <summary>Every codeword: code c decodes to entries [8c, 8c+8). 2 MiB; for table-driven decoders.</summary>
    public static ReadOnlySpan<float> DecodeTable => Table;

    /// <summary>Pattern p's absolute values, entry i at [8p + i].</summary>
    internal static ReadOnlySpan<float> AbsolutePatterns => Patterns;

    /// <summary>Writes codeword <paramref name="code"/> to <paramref name="y8"/>.</summary>
    public static void Decode(ushort code, Span<float> y8)
    {
        if (y8.Length < Dimension) throw new ArgumentException($"y8 needs {Dimension} entries, got {y8.Length}.", nameof(y8));
        Table.AsSpan(code * Dimension, Dimension).CopyTo(y8);
    }

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

    /// <summary>Decodes ⌈n/8⌉ codes into a row of length n (pad entries of the last codeword dropped).</summary>
    public static void DecodeRow(ReadOnlySpan<ushort> codes, Span<float> y)
    {
        int vectors = VectorCount(y.Length);
        if (codes.Length < vectors) throw new ArgumentException($"codes needs {vectors} entries for a row of {y.Length}, got {codes.Length}.", nameof(codes));
        for (int v = 0; v < vectors; v++)
        {
            int start = v * Dimension;
            int length = Math.Min(Dimension, y.Length - start);
            Table.AsSpan(codes[v] * Dimension, length).CopyTo(y.Slice(start, length));
        }
    }

    void ILatticeCodebook.QuantizeRow(ReadOnlySpan<float> x, Span<float> q, Span<ushort> words) => QuantizeRow(x, q, words);
    void ILatticeCodebook.DecodeRow(ReadOnlySpan<ushort> words, Span<float> y) => DecodeRow(words, y);

    /// <summary>⌈n/8⌉: the number of 8-vectors a row of <paramref name="length"/> weights occupies.</summary>
    public static int VectorCount(int length) => (length + Dimension - 1) / Dimension;

    /// <summary>
    /// Builds a code from a pattern, the negative mask of all 8 coordinates (must satisfy the parity rule) and
    /// the shift index, writing the codeword itself to <paramref name="q"/> (the first q.Length entries).
    /// The same arithmetic as the decode table, so quantize and decode agree bit for bit.
    /// </summary>
    internal static ushort Compose(int pattern, int negativeMask, int shiftIndex, Span<float> q)
    {
        float sigma = ShiftValue(shiftIndex);
        for (int i = 0; i < q.Length; i++)
        {
            float p = Patterns[pattern * Dimension + i];
            q[i] = ((negativeMask >> i & 1) != 0 ? -p : p) + sigma;
        }
        return (ushort)(pattern << 8 | (negativeMask & 0x7F) << 1 | shiftIndex);
    }

    /// <summary>Whether Σp of pattern p is odd, which decides the implied sign of coordinate 7.</summary>
    internal static bool IsPatternSumOdd(int pattern) => PatternSumIsOdd[pattern] != 0;

    internal static float ShiftValue(int shiftIndex) => shiftIndex == 0 ? Shift : -Shift;

    private static byte[] BuildPatternSumParity()
    {
        var odd = new byte[E8PPatterns.Count];
        for (int p = 0; p < odd.Length; p++)
        {
            float sum = 0;
            for (int i = 0; i < Dimension; i++) sum += Patterns[p * Dimension + i];
            odd[p] = (byte)((int)sum & 1);
        }
        return odd;
    }

    private static float[] BuildDecodeTable()
    {
        var table = new float[CodeCount * Dimension];
        for (int code = 0; code < CodeCount; code++)
        {
            int pattern = code >> 8;
            int signs = code >> 1 & 0x7F;
            int negative7 = (BitOperations.PopCount((uint)signs) + PatternSumIsOdd[pattern]) & 1;
            Compose(pattern, signs | negative7 << 7, code & 1, table.AsSpan(code * Dimension, Dimension));
        }
        return table;
    }

    private static void RequireFinite(ReadOnlySpan<float> x, string name)
    {
        for (int i = 0; i < x.Length; i++)
            if (!float.IsFinite(x[i]))
                throw new ArgumentException($"{name}[{i}] is {x[i]}; E8P quantization needs finite values (check the matrix for NaN/Inf).", name);
    }
}
