using System.Numerics;

namespace Caldera.Runtime.Compression;

/// <summary>
/// Decoding of the E8P 2-bit lattice code: 8 weights ↔ one 16-bit word. Codewords are C = {y ± ¼·𝟙 : y ∈ Y},
/// where Y ⊂ (ℤ+½)⁸ with Σy even holds the 256 absolute-value patterns of <see cref="E8PPatternTable"/> under
/// their 128 parity-valid sign patterns, so |C| = 2¹⁶. This is the single definition of the code; the
/// compiler's codebook searches it and stores its words, the runtime and the .cald format read them.
/// </summary>
/// <remarks>
/// Word layout: bits 15–8 = pattern index p; bits 7–1 = signs of coordinates 6…0 (bit i+1 set ⇔ coordinate i
/// negative); bit 0 = shift (0 → +¼, 1 → −¼). The sign of coordinate 7 is not stored: Σ sᵢpᵢ must be even,
/// and since 2pᵢ is odd, flipping any sign toggles that parity, so it is fixed by the other seven
/// (negative ⇔ popcount(signs 0–6) + Σp is odd). Every 16-bit word is a valid code.
/// </remarks>
internal static class E8PLattice
{
    public const int Dimension = 8;
    public const int CodeCount = 1 << 16;
    public const int PatternCount = E8PPatternTable.Count;
    public const float Shift = 0.25f;

    private static readonly float[] Patterns = E8PPatternTable.Build();
    private static readonly byte[] PatternSumIsOdd = BuildPatternSumParity();
    private static readonly float[] Table = BuildDecodeTable();

    /// <summary>Every codeword: code c decodes to entries [8c, 8c+8). 2 MiB, built once.</summary>
    public static ReadOnlySpan<float> DecodeTable => Table;

    /// <summary>Pattern p's absolute values, entry i at [8p + i].</summary>
    public static ReadOnlySpan<float> AbsolutePatterns => Patterns;

    /// <summary>⌈n/8⌉: the number of 8-vectors (code words) a row of <paramref name="length"/> weights occupies.</summary>
    public static int VectorCount(int length) => (length + Dimension - 1) / Dimension;

    /// <summary>Writes codeword <paramref name="code"/> to <paramref name="y8"/>.</summary>
    public static void Decode(ushort code, Span<float> y8)
    {
        if (y8.Length < Dimension) throw new ArgumentException($"y8 needs {Dimension} entries, got {y8.Length}.", nameof(y8));
        Table.AsSpan(code * Dimension, Dimension).CopyTo(y8);
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

    /// <summary>
    /// Builds a code from a pattern, the negative mask of all 8 coordinates (must satisfy the parity rule) and
    /// the shift index, writing the codeword itself to <paramref name="q"/> (the first q.Length entries).
    /// The same arithmetic as the decode table, so a search that composes its result and the table agree bit for bit.
    /// </summary>
    internal static ushort Compose(int pattern, int negativeMask, int shiftIndex, Span<float> q)
    {
        float sigma = ShiftValue(shiftIndex);
        for (int i = 0; i < q.Length; i++)
        {
            float p = Patterns[pattern * Dimension + i];
            q[i] = ((negativeMask >> i & 1) != 0 ? -p : p) + sigma;
        }
        return Code(pattern, negativeMask, shiftIndex);
    }

    /// <summary>The 16-bit code: pattern, the signs of coordinates 0–6 (coordinate 7's is implied by parity), shift.</summary>
    internal static ushort Code(int pattern, int negativeMask, int shiftIndex) =>
        (ushort)(pattern << 8 | (negativeMask & 0x7F) << 1 | shiftIndex);

    /// <summary>Whether Σp of pattern p is odd, which decides the implied sign of coordinate 7.</summary>
    internal static bool IsPatternSumOdd(int pattern) => PatternSumIsOdd[pattern] != 0;

    internal static float ShiftValue(int shiftIndex) => shiftIndex == 0 ? Shift : -Shift;

    private static byte[] BuildPatternSumParity()
    {
        var odd = new byte[PatternCount];
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
}
