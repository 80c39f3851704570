using Caldera.Runtime.Compression;
using Caldera.Runtime.Kernels;
using Caldera.CompilerServices;

namespace Caldera.Runtime.Tests.Kernels;

/// <summary>The register decoders against the 2 MiB decode table they replace: bit for bit, every word.</summary>
public class CodedVectorsTests
{
    [Fact]
    public void E8P_decodes_every_word_exactly_as_the_decode_table()
    {
        ReadOnlySpan<float> table = E8PLattice.DecodeTable;
        for (int word = 0; word < E8PLattice.CodeCount; word++)
        {
            var decoded = CodedVectors.E8P((ushort)word);
            for (int i = 0; i < E8PLattice.Dimension; i++)
                if (BitConverter.SingleToInt32Bits(decoded[i]) != BitConverter.SingleToInt32Bits(table[word * E8PLattice.Dimension + i]))
                    Assert.Fail($"word {word:X4} entry {i}: {decoded[i]} vs table {table[word * E8PLattice.Dimension + i]}");
        }
    }

    [Fact]
    public void Residual_decodes_every_second_stage_word_exactly_as_the_residual_lattice()
    {
        // The second word goes through the division-free q/ρ, so it is the one to sweep exhaustively;
        // a spread of first words checks the sum q₁ + q₂/ρ.
        Span<float> expected = stackalloc float[E8PLattice.Dimension];
        foreach (ushort first in new ushort[] { 0, 1, 0x00FE, 0x7F3B, 0xE2FF, 0xFFFF })
            for (int second = 0; second < E8PLattice.CodeCount; second++)
            {
                E8PResidualLattice.Decode(first | (uint)second << 16, expected);
                var decoded = CodedVectors.Residual(first, (ushort)second);
                for (int i = 0; i < E8PLattice.Dimension; i++)
                    if (BitConverter.SingleToInt32Bits(decoded[i]) != BitConverter.SingleToInt32Bits(expected[i]))
                        Assert.Fail($"words {first:X4}/{second:X4} entry {i}: {decoded[i]} vs {expected[i]}");
            }
    }

    [Fact]
    public void The_division_free_quotient_is_the_correctly_rounded_one_for_every_codeword_entry()
    {
        // Entries of a codeword are ±p ± ¼ with p ∈ {½, 3/2, 5/2}: ±{¼, ¾, 5/4, 7/4, 9/4, 11/4}.
        var values = new float[] { 0.25f, 0.75f, 1.25f, 1.75f, 2.25f, 2.75f, -0.25f, -0.75f, -1.25f, -1.75f, -2.25f, -2.75f, 0.5f, 1.5f, -2.5f, 0 };
        for (int start = 0; start < values.Length; start += 8)
        {
            var q = System.Runtime.Intrinsics.Vector256.Create(values.AsSpan(start, 8));
            var quotient = CodedVectors.DivideByResidualScale(q);
            for (int i = 0; i < 8; i++) Assert.Equal(values[start + i] / E8PResidualLattice.ResidualScale, quotient[i]);
        }
    }
}
