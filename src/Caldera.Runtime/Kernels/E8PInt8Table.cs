using Caldera.Runtime.Compression;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// Every E8P codeword times four as eight signed bytes: entry w holds 4·C[w] ∈ {±1, ±3, …, ±11}⁸, byte i = coordinate i.
/// </summary>
/// <remarks>
/// C[w] = ±p ± ¼ with p ∈ {½, 3/2, 5/2}, so 4·C[w] is an odd integer of magnitude at most 11: exact in int8, and a
/// word decodes with one 64-bit load. 2¹⁶ entries × 8 B = 512 KiB: it lives in L2 (1 MiB per core here) beside the
/// streamed code words. Built once from <see cref="E8PLattice.DecodeTable"/>, so it is the same code by construction.
/// </remarks>
internal static class E8PInt8Table
{
    /// <summary>4·C[w] packed little-endian, coordinate i in byte i.</summary>
    public static readonly ulong[] Codewords = Build();

    /// <summary>4·C[w] coordinate <paramref name="i"/>.</summary>
    public static sbyte Entry(ulong codeword, int i) => (sbyte)(codeword >> (8 * i));

    private static ulong[] Build()
    {
        ReadOnlySpan<float> decoded = E8PLattice.DecodeTable;
        var table = new ulong[E8PLattice.CodeCount];
        for (int w = 0; w < table.Length; w++)
        {
            ulong packed = 0;
            for (int i = 0; i < E8PLattice.Dimension; i++)
                packed |= (ulong)(byte)(sbyte)(4 * decoded[w * E8PLattice.Dimension + i]) << (8 * i);
            table[w] = packed;
        }
        return table;
    }
}
