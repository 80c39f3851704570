using Caldera.Runtime.Compression;
using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Tests.Kernels;

/// <summary>
/// <see cref="E8PNibbleDecode"/>'s tables are literals (so no class initialiser runs inside its callers' loops); here
/// each is derived again from the E8P codebook and the record layout the decode's remarks describe.
/// </summary>
public class E8PNibbleDecodeTablesTests
{
    [Fact]
    public void The_magnitude_table_holds_every_patterns_magnitude_codes() =>
        Assert.Equal(MagnitudeBytes(), E8PNibbleDecode.MagnitudeTable.ToArray());

    [Fact]
    public void The_affine_matrices_place_the_magnitude_sign_and_shift_bits_of_each_record_byte()
    {
        Assert.Equal(MagnitudeMatrices(), E8PNibbleDecode.MagnitudeMatrices.ToArray());
        Assert.Equal(SignMatrices(), E8PNibbleDecode.SignMatrices.ToArray());
    }

    [Fact]
    public void The_permute_indices_spread_records_pair_residual_words_and_transpose_levels()
    {
        Assert.Equal(SpreadIndices(), E8PNibbleDecode.SpreadTable.ToArray());
        Assert.Equal(Enumerable.Range(0, 64).Select(i => (byte)(2 * (i < 32 ? 2 * i : 2 * (i - 32) + 1))), E8PNibbleDecode.PairLowByteTable.ToArray());
        Assert.Equal(Enumerable.Range(0, 64).Select(i => (byte)(8 * (i % 8) + i / 8)), E8PNibbleDecode.WordTransposeTable.ToArray());
    }

    [Fact]
    public void The_nibble_table_gives_four_C_plus_the_offset_for_every_nibble() =>
        Assert.Equal(NibbleValues(), E8PNibbleDecode.NibbleValueTable.ToArray());

    [Fact]
    public void The_halved_nibble_table_gives_half_of_four_C_plus_the_offset_for_every_nibble() =>
        // U = 4C + 11 is even wherever a pattern reaches it (4C is odd); the unreachable m = 3 entries halve 11 to 5.
        Assert.Equal(NibbleValues().Select(value => (byte)(value / 2)), E8PNibbleDecode.HalvedNibbleValueTable.ToArray());

    /// <summary>The magnitude codes of pattern p, coordinates 4h … 4h + 3 two bits each, at [256h + p].</summary>
    private static byte[] MagnitudeBytes()
    {
        ReadOnlySpan<float> patterns = E8PLattice.AbsolutePatterns;
        var bytes = new byte[2 * 256];
        for (int p = 0; p < E8PLattice.PatternCount; p++)
            for (int i = 0; i < E8PLattice.Dimension; i++)
                bytes[i / 4 * 256 + p] |= (byte)((int)patterns[8 * p + i] << (2 * (i % 4))); // m = |y| − ½ ∈ {0, 1, 2}
        return bytes;
    }

    /// <summary>gf2p8affineqb matrices (result bit i = parity(x AND byte 7 − i)) taking a magnitude byte to record byte k's m fields, and for k ≥ 3 n₇'s "Σp odd" share.</summary>
    private static ulong[] MagnitudeMatrices()
    {
        const int LowBits = 0b0101_0101; // the low bit of each m: their parity is that of Σp
        var matrices = new ulong[5];
        Span<int> rows = stackalloc int[8];
        for (int k = 0; k < 5; k++)
        {
            rows.Clear();
            if (k < 4)
            {
                int first = k % 2 == 0 ? 0 : 4; // coordinates 2k, 2k + 1 sit at bits 0–3 or 4–7 of their magnitude byte
                rows[0] = 1 << first;
                rows[1] = 1 << (first + 1);
                rows[4] = 1 << (first + 2);
                rows[5] = 1 << (first + 3);
            }
            if (k >= 3) rows[6] = LowBits; // n₇
            for (int i = 0; i < 8; i++) matrices[k] |= (ulong)(byte)rows[i] << (8 * (7 - i));
        }
        return matrices;
    }

    /// <summary>gf2p8affineqb matrices taking s (a word's low byte) to the sign and shift bits of record byte k.</summary>
    private static ulong[] SignMatrices()
    {
        var matrices = new ulong[4];
        for (int k = 0; k < 4; k++)
        {
            int lowSign = 1 << (2 * k + 1);                         // n_{2k}: bit 2k+1 of s
            int highSign = k < 3 ? 1 << (2 * k + 2) : 0xFE;         // n_{2k+1}: bit 2k+2, or for coordinate 7 the parity of bits 1–7
            Span<int> rows = [0, 0, lowSign, 1, 0, 0, highSign, 1]; // bits 3 and 7: h = bit 0 of s
            ulong matrix = 0;
            for (int i = 0; i < 8; i++) matrix |= (ulong)(byte)rows[i] << (8 * (7 - i));
            matrices[k] = matrix;
        }
        return matrices;
    }

    /// <summary>vpermi2b indices: step t puts record bytes 0–3 of word 8t + j into bytes 8j … 8j + 3 of qword j, repeated in bytes 4–7.</summary>
    private static byte[] SpreadIndices()
    {
        var indices = new byte[4 * 64];
        for (int step = 0; step < 4; step++)
            for (int j = 0; j < 8; j++)
                for (int lane = 0; lane < 8; lane++)
                    indices[64 * step + 8 * j + lane] = (byte)(32 * (lane % 4) + 8 * step + j);
        return indices;
    }

    /// <summary>U = 4·C + 11 for every nibble [m, n, h], repeated four times.</summary>
    private static byte[] NibbleValues()
    {
        var values = new byte[64];
        for (int index = 0; index < values.Length; index++)
        {
            int nibble = index & 15, m = nibble & 3;
            int fourC = m == 3 ? 0 // no pattern has an entry 7/2
                : ((nibble & 4) != 0 ? -1 : 1) * (4 * m + 2) + ((nibble & 8) != 0 ? -1 : 1);
            values[index] = (byte)(fourC + E8PNibbleDecode.Offset);
        }
        return values;
    }
}
