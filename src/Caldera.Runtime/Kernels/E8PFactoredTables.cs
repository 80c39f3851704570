using System.Numerics;
using Caldera.Runtime.Compression;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// The E8P codeword of a word w factored into two small, L1-resident tables, so a kernel decodes in registers
/// instead of gathering from the 2 MiB <see cref="E8PLattice.DecodeTable"/>:
///   C[w] = P̃[w ≫ 8] ⊙ S[(w ≫ 1) &amp; 127] + σ[w &amp; 1]
/// P̃[p] is pattern p's absolute values with coordinate 7 negated when Σp is odd; S[s] is −1 at each coordinate
/// i &lt; 7 whose bit i is set in s and at coordinate 7 when popcount(s) is odd, else +1; σ is ±¼.
/// </summary>
/// <remarks>
/// Coordinate 7 comes out negative exactly when popcount(s) + Σp is odd, the parity rule of <see cref="E8PLattice"/>.
/// Every product is ±p exactly and ±p ± ¼ is exact in float, so C[w] equals the decode table bit for bit, with or
/// without FMA. S and σ share one table indexed by w's low byte (S at 16b, σ at 16b + 8), so one address serves both.
/// Sizes: P̃ 256 × 8 floats (8 KiB), S and σ 256 × 16 floats (16 KiB).
/// </remarks>
internal static class E8PFactoredTables
{
    /// <summary>Floats per low-byte entry of <see cref="SignsAndShifts"/>: the sign row, then the shift row.</summary>
    public const int LowByteStride = 2 * E8PLattice.Dimension;

    /// <summary>P̃, row p at [8p, 8p + 8).</summary>
    public static readonly float[] Patterns = BuildPatterns();

    /// <summary>For low byte b: S[b ≫ 1] at [16b, 16b + 8), σ[b &amp; 1] (all eight lanes) at [16b + 8, 16b + 16).</summary>
    public static readonly float[] SignsAndShifts = BuildSignsAndShifts();

    private static float[] BuildPatterns()
    {
        const int d = E8PLattice.Dimension;
        var rows = E8PLattice.AbsolutePatterns.ToArray();
        for (int p = 0; p < E8PLattice.PatternCount; p++)
            if (E8PLattice.IsPatternSumOdd(p)) rows[p * d + d - 1] = -rows[p * d + d - 1];
        return rows;
    }

    private static float[] BuildSignsAndShifts()
    {
        const int d = E8PLattice.Dimension;
        var table = new float[256 * LowByteStride];
        for (int b = 0; b < 256; b++)
        {
            int signs = b >> 1;
            Span<float> row = table.AsSpan(b * LowByteStride, LowByteStride);
            for (int i = 0; i < d - 1; i++) row[i] = (signs >> i & 1) != 0 ? -1f : 1f;
            row[d - 1] = (BitOperations.PopCount((uint)signs) & 1) != 0 ? -1f : 1f;
            row[d..].Fill(E8PLattice.ShiftValue(b & 1));
        }
        return table;
    }
}
