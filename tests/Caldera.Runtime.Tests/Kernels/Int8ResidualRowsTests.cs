using System.Runtime.Intrinsics.X86;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Tests.Kernels;

public class Int8ResidualRowsTests
{
    /// <summary>
    /// A and B are exact int32 sums; the float part is ⌈n/256⌉ terms s_b·(A + B/ρ), each a few roundings (the
    /// conversions, the division, the product, the running sum), and the final ¼ is exact: 6ε per term of Σ|term|.
    /// </summary>
    private const double BlockSumRelativeTolerance = 1.2e-7 * 6;

    [Fact]
    public void The_scalar_path_is_the_decoded_residual_rows_dotted_with_the_dequantised_activation()
    {
        var random = new Random(31);
        foreach (int n in KernelData.Lengths)
        {
            var (words, q, scales) = Case(random, n, rows: 3);
            var t = new float[3];
            Int8ResidualRows.DotRows(words, q, scales, t, Int8CodedRows.Path.Scalar);
            int perRow = E8PResidualLattice.WordCount(n);
            var decoded = new float[q.Length];
            for (int r = 0; r < 3; r++)
            {
                E8PResidualLattice.DecodeRow(words.AsSpan(r * perRow, perRow), decoded);
                double dot = 0, abs = 0;
                for (int i = 0; i < decoded.Length; i++)
                {
                    double term = (double)decoded[i] * scales[i / Int8Activations.BlockLength] * q[i];
                    dot += term;
                    abs += Math.Abs(term);
                }
                Assert.True(Math.Abs(t[r] - dot) <= BlockSumRelativeTolerance * (scales.Length + 1) * abs + 1e-30, $"n={n} r={r}: {t[r]} vs {dot}");
            }
        }
    }

    [Fact]
    public void Every_vector_path_equals_the_scalar_path_bit_for_bit_at_many_lengths()
    {
        // AVX2 runs the portable 128-bit path (R has no AVX2 kernel); the register decode takes whole blocks only.
        var random = new Random(32);
        foreach (int n in KernelData.Lengths)
            foreach (int rows in new[] { 1, 3, 8 })
            {
                var (words, q, scales) = Case(random, n, rows);
                var expected = new float[rows];
                Int8ResidualRows.DotRows(words, q, scales, expected, Int8CodedRows.Path.Scalar);
                foreach (var path in KernelData.Int8VectorPaths)
                {
                    var t = new float[rows];
                    Int8ResidualRows.DotRows(words, q, scales, t, path);
                    Assert.True(expected.AsSpan().SequenceEqual(t), $"n={n} rows={rows} {path}");
                }
            }
    }

    [Theory]
    [InlineData(64, 256)]
    [InlineData(64, 512)]
    [InlineData(64, 2048)]
    [InlineData(17, 5632)]
    [InlineData(3, 1000)]
    public void A_batch_of_tokens_gives_every_token_its_one_token_result_bit_for_bit_on_every_path(int rows, int n)
    {
        // 256 is one block (not whole pairs) and 1000 is not whole blocks: those run token by token; the others decode each block once.
        var random = new Random(rows + n);
        var (words, _, _) = Case(random, n, rows);
        int levels = Int8Activations.PaddedLength(n), blocks = Int8Activations.BlockCount(n);
        foreach (int tokens in new[] { 1, 2, 5, 8, 9, 16 })
        {
            var q = new sbyte[tokens * levels];
            var scales = new float[tokens * blocks];
            var coordinateMajor = new sbyte[tokens * levels];
            for (int k = 0; k < tokens; k++)
            {
                Int8Activations.Quantize(KernelData.Floats(n, 100 * k + n), q.AsSpan(k * levels, levels), scales.AsSpan(k * blocks, blocks));
                if (Int8CodedRows.PairedBlocks(levels) && E8PNibbleDecode.IsSupported)
                    Int8CodedTile.LayOut(q.AsSpan(k * levels, levels), coordinateMajor.AsSpan(k * levels, levels));
            }
            int ldt = rows + 5;
            foreach (var path in KernelData.Int8VectorPaths.Prepend(Int8CodedRows.Path.Scalar))
            {
                var t = new float[(tokens - 1) * ldt + rows];
                Int8ResidualRows.DotRowsTokens(words, rows, q, coordinateMajor, scales, tokens, t, ldt, path);
                for (int k = 0; k < tokens; k++)
                {
                    var expected = new float[rows];
                    Int8ResidualRows.DotRows(words, q.AsSpan(k * levels, levels), scales.AsSpan(k * blocks, blocks), expected, Int8CodedRows.Path.Scalar);
                    Assert.True(expected.AsSpan().SequenceEqual(t.AsSpan(k * ldt, rows)), $"{rows}×{n}, {tokens} tokens, token {k}, {path}");
                }
            }
        }
    }

    [Fact]
    public void Extreme_levels_and_codewords_do_not_overflow()
    {
        // Every level ±127 with the sign of the codeword of largest magnitude, over the widest real row: the largest sums.
        const int n = 5632;
        int vectors = E8PLattice.VectorCount(n);
        ushort largest = 0;
        for (int w = 0; w < E8PLattice.CodeCount; w++)
            if (E8PLattice.DecodeTable.Slice(w * E8PLattice.Dimension, E8PLattice.Dimension).ToArray().Sum(Math.Abs) >
                E8PLattice.DecodeTable.Slice(largest * E8PLattice.Dimension, E8PLattice.Dimension).ToArray().Sum(Math.Abs)) largest = (ushort)w;
        var words = Enumerable.Repeat(largest, 2 * vectors).ToArray();
        var q = new sbyte[vectors * E8PLattice.Dimension];
        for (int i = 0; i < q.Length; i++) q[i] = (sbyte)(E8PLattice.DecodeTable[largest * E8PLattice.Dimension + i % E8PLattice.Dimension] > 0 ? 127 : -127);
        var scales = Enumerable.Repeat(1f, Int8Activations.BlockCount(n)).ToArray();
        // A = B = Σ 4·|C_i|·127 per vector, so t = ¼·(1 + 1/ρ)·vectors·Σ_i 4·|C_i|·127.
        double norm = E8PLattice.DecodeTable.Slice(largest * E8PLattice.Dimension, E8PLattice.Dimension).ToArray().Sum(v => Math.Abs((double)v));
        double expected = (1 + 1 / (double)E8PResidualLattice.ResidualScale) * vectors * norm * 127;
        foreach (var path in (Int8CodedRows.Path[])[Int8CodedRows.Path.Scalar, Int8CodedRows.Best])
        {
            var t = new float[1];
            Int8ResidualRows.DotRows(words, q, scales, t, path);
            Assert.True(Math.Abs(t[0] - expected) <= 1e-5 * expected, $"{path}: {t[0]} vs {expected}");
        }
    }

    [Fact]
    public void Mismatched_lengths_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => Int8ResidualRows.DotRows(new ushort[11], new sbyte[24], new float[1], new float[2]));
        Assert.Throws<ArgumentException>(() => Int8ResidualRows.DotRows(new ushort[12], new sbyte[20], new float[1], new float[2]));
        Assert.Throws<ArgumentException>(() => Int8ResidualRows.DotRows(new ushort[12], new sbyte[24], new float[2], new float[2]));
    }

    /// <summary>Random word pairs and a quantised random activation of length n (levels padded to whole vectors).</summary>
    private static (ushort[] Words, sbyte[] Q, float[] Scales) Case(Random random, int n, int rows)
    {
        var words = new ushort[rows * E8PResidualLattice.WordCount(n)];
        for (int i = 0; i < words.Length; i++) words[i] = (ushort)random.Next(1 << 16);
        var u = KernelData.Floats(n, n + rows);
        var q = new sbyte[Int8Activations.PaddedLength(n)];
        var scales = new float[Int8Activations.BlockCount(n)];
        Int8Activations.Quantize(u, q, scales);
        return (words, q, scales);
    }
}
