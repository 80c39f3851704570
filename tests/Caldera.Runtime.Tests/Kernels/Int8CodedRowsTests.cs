using System.Runtime.Intrinsics.X86;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Tests.Kernels;

public class Int8CodedRowsTests
{
    /// <summary>
    /// The scalar int8 path sums exact int32 block products and then ⌈n/256⌉ float terms s_b·sum_b: its distance from
    /// the same sum in double is a few float roundings of those terms (ε = 2⁻²³, one per term plus the final ¼).
    /// </summary>
    private const double BlockSumRelativeTolerance = 1.2e-7 * 4;

    /// <summary>Float rounding of the float path and the int8 path, per term of Σ|C_i·u_i| (as CodedRowsTests).</summary>
    private const double FloatRelativeTolerancePerTerm = 1.2e-7 * 4;

    [Fact]
    public void The_scalar_path_is_the_decoded_codewords_dotted_with_the_dequantised_activation()
    {
        var random = new Random(3);
        foreach (int n in KernelData.Lengths)
        {
            var (words, q, scales) = Case(random, n, rows: 3);
            var y = new float[3];
            Int8CodedRows.DotE8PRows(words, q, scales, y, Int8CodedRows.Path.Scalar);
            int perRow = E8PLattice.VectorCount(n);
            var decoded = new float[perRow * E8PLattice.Dimension];
            for (int r = 0; r < 3; r++)
            {
                E8PLattice.DecodeRow(words.AsSpan(r * perRow, perRow), decoded);
                double dot = 0, abs = 0;
                for (int i = 0; i < decoded.Length; i++)
                {
                    double term = (double)decoded[i] * scales[i / Int8Activations.BlockLength] * q[i];
                    dot += term;
                    abs += Math.Abs(term);
                }
                Assert.True(Math.Abs(y[r] - dot) <= BlockSumRelativeTolerance * (scales.Length + 1) * abs + 1e-30, $"n={n} r={r}: {y[r]} vs {dot}");
            }
        }
    }

    [IsaFact(Isa.Avx2)]
    public void Every_vector_path_equals_the_scalar_path_bit_for_bit_at_many_lengths()
    {
        // Block sums are exact integers and the float sum over blocks runs in one order on every path.
        var random = new Random(5);
        foreach (int n in KernelData.Lengths)
            foreach (int rows in new[] { 1, 3, 8 })
            {
                var (words, q, scales) = Case(random, n, rows);
                var expected = new float[rows];
                Int8CodedRows.DotE8PRows(words, q, scales, expected, Int8CodedRows.Path.Scalar);
                foreach (var path in KernelData.Int8VectorPaths)
                {
                    var y = new float[rows];
                    Int8CodedRows.DotE8PRows(words, q, scales, y, path);
                    Assert.True(expected.AsSpan().SequenceEqual(y), $"n={n} rows={rows} {path}");
                }
            }
    }

    [IsaTheory(Isa.Avx2)]
    [InlineData(Int8Activations.BlockLength)]     // one block per row: the block-stream kernel
    [InlineData(2 * Int8Activations.BlockLength)] // whole pairs of blocks: the coordinate-major kernel
    public void Every_code_word_decodes_the_same_on_every_path(int n)
    {
        // All 2¹⁶ words once each, as rows of one or two blocks in shuffled order, against three random
        // activations: a word decoded wrongly by the register decode (pattern bytes, sign affine map, parity of
        // coordinate 7, shift, the level transpose) changes its row's exact block sum, which no other word of the
        // row can cancel for all three.
        int rows = (1 << 16) / (n / E8PLattice.Dimension);
        var random = new Random(17);
        var words = Enumerable.Range(0, 1 << 16).Select(w => (ushort)w).OrderBy(_ => random.Next()).ToArray();
        for (int trial = 0; trial < 3; trial++)
        {
            var q = Enumerable.Range(0, n).Select(_ => (sbyte)random.Next(-127, 128)).ToArray();
            var scales = Enumerable.Repeat(1f, n / Int8Activations.BlockLength).ToArray();
            var expected = new float[rows];
            Int8CodedRows.DotE8PRows(words, q, scales, expected, Int8CodedRows.Path.Scalar);
            foreach (var path in KernelData.Int8VectorPaths)
            {
                var y = new float[rows];
                Int8CodedRows.DotE8PRows(words, q, scales, y, path);
                Assert.True(expected.AsSpan().SequenceEqual(y), $"trial {trial} {path}");
            }
        }
    }

    [Fact]
    public void Extreme_levels_and_codewords_do_not_overflow_any_path()
    {
        // Every level ±127 against words whose codewords are all ±11/4 (pattern 5/2 entries, both shift signs).
        int n = 5632, perRow = E8PLattice.VectorCount(n);
        var q = new sbyte[n];
        for (int i = 0; i < n; i++) q[i] = (sbyte)(i % 3 == 0 ? -127 : 127);
        var scales = Enumerable.Repeat(1f, Int8Activations.BlockCount(n)).ToArray();
        var words = new ushort[perRow];
        var random = new Random(13);
        for (int v = 0; v < perRow; v++) words[v] = (ushort)random.Next(1 << 16);
        var expected = new float[1];
        Int8CodedRows.DotE8PRows(words, q, scales, expected, Int8CodedRows.Path.Scalar);
        double exact = 0;
        var decoded = new float[n];
        E8PLattice.DecodeRow(words, decoded);
        for (int i = 0; i < n; i++) exact += decoded[i] * q[i];
        Assert.Equal(exact, expected[0], 1e-3);
        foreach (var path in KernelData.Int8VectorPaths)
        {
            var y = new float[1];
            Int8CodedRows.DotE8PRows(words, q, scales, y, path);
            Assert.Equal(expected[0], y[0]);
        }
    }

    [Fact]
    public void The_int8_result_is_within_the_quantisation_bound_of_the_float_result()
    {
        // |Σ C_i·u_i − Σ C_i·s_b·q_i| ≤ Σ_i |C_i|·s_b/2: each level is u_i/s_b rounded to nearest. Float rounding of
        // both sums is added on top. The real shapes of the synthetic Llama and tinystories-256d, and odd ones.
        var random = new Random(7);
        foreach (int n in new[] { 17, 65, 256, 768, 2048, 5632 })
        {
            const int rows = 8;
            int perRow = E8PLattice.VectorCount(n);
            var words = new ushort[rows * perRow];
            for (int i = 0; i < words.Length; i++) words[i] = (ushort)random.Next(1 << 16);
            var u = KernelData.Floats(n, n, 3f);
            var q = new sbyte[Int8Activations.PaddedLength(n)];
            var scales = new float[Int8Activations.BlockCount(n)];
            Int8Activations.Quantize(u, q, scales);
            var exact = new float[rows];
            var int8 = new float[rows];
            CodedRows.DotE8PRows(words, u, exact);
            Int8CodedRows.DotE8PRows(words, q, scales, int8);
            var decoded = new float[n];
            for (int r = 0; r < rows; r++)
            {
                E8PLattice.DecodeRow(words.AsSpan(r * perRow, perRow), decoded);
                double bound = 0, abs = 0;
                for (int i = 0; i < n; i++)
                {
                    bound += Math.Abs(decoded[i]) * scales[i / Int8Activations.BlockLength] / 2;
                    abs += Math.Abs(decoded[i] * u[i]);
                }
                bound += 2 * FloatRelativeTolerancePerTerm * n * abs;
                Assert.True(Math.Abs(int8[r] - exact[r]) <= bound, $"n={n} r={r}: int8 {int8[r]} vs float {exact[r]}, bound {bound}");
            }
        }
    }

    [Fact]
    public void Quantize_rounds_to_the_nearest_level_of_each_block_and_pads_with_zeros()
    {
        foreach (int n in KernelData.Lengths)
        {
            var u = KernelData.Floats(n, n + 2, 5f);
            if (n > 300) u.AsSpan(256, 256).Clear(); // an all-zero block has scale 0 and zero levels
            var expectedQ = new sbyte[Int8Activations.PaddedLength(n)];
            var expectedScales = new float[Int8Activations.BlockCount(n)];
            Int8Activations.Quantize(u, expectedQ, expectedScales, KernelPath.Scalar);
            for (int i = 0; i < n; i++)
            {
                float s = expectedScales[i / Int8Activations.BlockLength];
                Assert.InRange(expectedQ[i], -Int8Activations.MaxLevel, Int8Activations.MaxLevel);
                Assert.True(Math.Abs(u[i] - s * expectedQ[i]) <= s / 2 * (1 + 1e-5), $"n={n} i={i}: {u[i]} → {expectedQ[i]}·{s}");
            }
            for (int b = 0; b < expectedScales.Length; b++)
            {
                int start = b * Int8Activations.BlockLength, length = Math.Min(Int8Activations.BlockLength, n - start);
                float max = u.AsSpan(start, length).ToArray().Max(Math.Abs);
                Assert.Equal(max / Int8Activations.MaxLevel, expectedScales[b]);
            }
            Assert.All(expectedQ[n..], level => Assert.Equal(0, level));
            foreach (var path in KernelData.VectorPaths)
            {
                var q = new sbyte[expectedQ.Length];
                q.AsSpan().Fill(99);
                var scales = new float[expectedScales.Length];
                Int8Activations.Quantize(u, q, scales, path);
                Assert.Equal(expectedQ, q);
                Assert.Equal(expectedScales, scales);
            }
        }
    }

    [Fact]
    public void Mismatched_lengths_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => Int8Activations.Quantize(new float[17], new sbyte[17], new float[1]));
        Assert.Throws<ArgumentException>(() => Int8Activations.Quantize(new float[17], new sbyte[24], new float[2]));
        Assert.Throws<ArgumentException>(() => Int8CodedRows.DotE8PRows(new ushort[5], new sbyte[24], new float[1], new float[2]));
        Assert.Throws<ArgumentException>(() => Int8CodedRows.DotE8PRows(new ushort[6], new sbyte[20], new float[1], new float[2]));
        Assert.Throws<ArgumentException>(() => Int8CodedRows.DotE8PRows(new ushort[6], new sbyte[24], new float[2], new float[2]));
    }

    /// <summary>Random words for <paramref name="rows"/> rows of n weights and a quantised random activation.</summary>
    private static (ushort[] Words, sbyte[] Q, float[] Scales) Case(Random random, int n, int rows)
    {
        var words = new ushort[rows * E8PLattice.VectorCount(n)];
        for (int i = 0; i < words.Length; i++) words[i] = (ushort)random.Next(1 << 16);
        var q = new sbyte[Int8Activations.PaddedLength(n)];
        var scales = new float[Int8Activations.BlockCount(n)];
        Int8Activations.Quantize(KernelData.Floats(n, n + rows, 2f), q, scales);
        return (words, q, scales);
    }
}
