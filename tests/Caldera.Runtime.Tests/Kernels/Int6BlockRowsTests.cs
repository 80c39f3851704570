using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Tests.Kernels;

public class Int6BlockRowsTests
{
    /// <summary>
    /// As <see cref="Int8BlockRowsTests"/>: exact int32 block sums, then float terms (s_w·s_x)·S_b into eight lanes, each
    /// rounded at most three times (scale product, fused multiply-add, lane adds): a few ε = 2⁻²³ of Σ|terms| (4ε per term).
    /// </summary>
    private const double RoundingPerTerm = 1.2e-7 * 4;

    /// <summary>
    /// Real row widths (rows × columns): stories260K's and tinystories-256d's classifiers, the synthetic dim-2048 Llama's
    /// (3001 of its 32000 rows: odd, and every row runs the same code) and FFN-wide rows (5632).
    /// </summary>
    public static TheoryData<int, int> RealShapes => new() { { 512, 64 }, { 512, 256 }, { 3001, 2048 }, { 301, 5632 } };

    [Fact]
    public void Group_order_is_a_permutation_that_puts_block_k_in_int32_lane_k_of_every_32_byte_run()
    {
        var seen = new bool[Int6Blocks.GroupLength];
        for (int i = 0; i < Int6Blocks.GroupLength; i++)
        {
            int p = Int6Blocks.GroupPosition(i);
            Assert.False(seen[p], $"position {p} twice");
            seen[p] = true;
            Assert.Equal(i / Int6Blocks.BlockLength, p % 32 / 4);
        }
    }

    [Fact]
    public void The_scalar_path_is_the_dequantised_rows_dotted_with_the_dequantised_vector()
    {
        var random = new Random(3);
        foreach (int n in KernelData.Lengths)
        {
            const int rows = 3;
            var m = Case(random, n, rows);
            var y = new float[rows];
            Int6BlockRows.DotRows(m.Planes, m.WeightScales, m.Levels, m.LevelScales, m.Offsets, y, Int8CodedRows.Path.Scalar);
            var weights = Dequantised(m.Planes, m.WeightScales, rows, n);
            var x = DequantisedInput(m, n);
            for (int r = 0; r < rows; r++)
            {
                double dot = 0, abs = 0;
                for (int i = 0; i < n; i++)
                {
                    dot += (double)weights[r * n + i] * x[i];
                    abs += Math.Abs((double)weights[r * n + i] * x[i]);
                }
                Assert.True(Math.Abs(y[r] - dot) <= RoundingPerTerm * (m.LevelScales.Length + 1) * abs + 1e-30, $"n={n} r={r}: {y[r]} vs {dot}");
            }
        }
    }

    [IsaFact(Isa.Avx2)]
    public void Every_vector_path_equals_the_scalar_path_bit_for_bit_at_many_lengths()
    {
        // Block sums are exact integers and the float sum over blocks runs in one order on every path.
        var random = new Random(5);
        foreach (int n in KernelData.Lengths.Concat([255, 257, 32 * 9, 512, 32 * 17 + 5]))
            foreach (int rows in new[] { 1, 3, 8 })
                AssertPathsAgree(Case(random, n, rows), rows, $"n={n} rows={rows}");
    }

    [IsaTheory(Isa.Avx2)]
    [MemberData(nameof(RealShapes))]
    public void Every_vector_path_equals_the_scalar_path_at_the_real_shapes(int rows, int columns) =>
        AssertPathsAgree(Case(new Random(rows + columns), columns, rows), rows, $"{rows}×{columns}");

    [Fact]
    public void Extreme_levels_do_not_overflow_any_path()
    {
        // u ∈ {1, 63} (q = ∓31) against x ∈ {−128, 127}: the largest pair sums vpmaddubsw makes (2·63·128), two runs of
        // them added in int16, and the largest block sums.
        const int groups = 8;
        var planes = new byte[groups * Int6Blocks.GroupBytes];
        var levels = new sbyte[groups * Int6Blocks.GroupLength];
        var u = new byte[Int6Blocks.GroupLength];
        double exact = 0;
        for (int g = 0; g < groups; g++)
        {
            for (int p = 0; p < u.Length; p++)
            {
                u[p] = (byte)((p + g) % 3 == 0 ? 1 : 63);
                levels[g * u.Length + p] = (sbyte)(g % 2 == 0 ? -128 : p % 5 == 0 ? -128 : 127);
                exact += (u[p] - Int6Blocks.Offset) * levels[g * u.Length + p];
            }
            Int6Blocks.Pack(u, planes.AsSpan(g * Int6Blocks.GroupBytes, Int6Blocks.GroupBytes));
        }
        var one = Enumerable.Repeat((ushort)0x3F80, groups * 8).ToArray(); // BF16 1.0
        var ones = Enumerable.Repeat(1f, groups * 8).ToArray();
        var expected = new float[1];
        Int6BlockRows.DotRows(planes, one, levels, ones, Offsets(levels), expected, Int8CodedRows.Path.Scalar);
        Assert.Equal(exact, expected[0]);
        foreach (var path in KernelData.Int8VectorPaths)
        {
            var y = new float[1];
            Int6BlockRows.DotRows(planes, one, levels, ones, Offsets(levels), y, path);
            Assert.Equal(expected[0], y[0]);
        }
    }

    [Fact]
    public void The_6bit_result_is_within_the_quantisation_bound_of_the_float_product()
    {
        // W·x − Ŵ·x̂ = W·(x − x̂) + (W − Ŵ)·x̂, each level its entry rounded to nearest: per row
        // |W·x − Ŵ·x̂| ≤ Σ_b (s_x[b]/2·Σ_{i∈b}|W_ri| + s_w[r,b]/2·Σ_{i∈b}|x̂_i|), plus the float rounding of both sums.
        foreach (int n in new[] { 17, 64, 65, 256, 2048 })
        {
            const int rows = 8;
            var w = KernelData.Floats(rows * n, n, 0.1f);
            w[3] = 5; // an outlier coarsens only its own block
            var x = KernelData.Floats(n, n + 1, 3f);
            var (planes, weightScales) = QuantizeRows(w, rows, n);
            var (levels, levelScales, offsets) = QuantizeInput(x);
            var y = new float[rows];
            Int6BlockRows.DotRows(planes, weightScales, levels, levelScales, offsets, y);
            var xHat = DequantisedInput(new Matrix(planes, weightScales, levels, levelScales, offsets), n);
            for (int r = 0; r < rows; r++)
            {
                double exact = 0, bound = 0, abs = 0;
                for (int i = 0; i < n; i++)
                {
                    int b = i / Int6Blocks.BlockLength;
                    exact += (double)w[r * n + i] * x[i];
                    abs += Math.Abs((double)w[r * n + i] * x[i]);
                    bound += levelScales[b] / 2 * Math.Abs(w[r * n + i]) + Int6Blocks.Scale(weightScales[r * levelScales.Length + b]) / 2 * Math.Abs(xHat[i]);
                }
                bound += RoundingPerTerm * (levelScales.Length + 1) * (abs + bound);
                Assert.True(Math.Abs(y[r] - exact) <= bound, $"n={n} r={r}: 6-bit {y[r]} vs exact {exact}, bound {bound}");
            }
        }
    }

    [Fact]
    public void QuantizeRow_rounds_each_entry_to_the_nearest_level_of_a_bf16_scale_just_above_max_over_31()
    {
        foreach (int n in KernelData.Lengths)
        {
            var v = KernelData.Floats(n, n + 2, 5f);
            if (n > 70) v.AsSpan(32, 32).Clear(); // an all-zero block has scale 0 and zero levels
            var expectedPlanes = new byte[Int6Blocks.RowBytes(n)];
            var expectedScales = new ushort[Int6Blocks.BlockCount(n)];
            Int6Blocks.QuantizeRow(v, expectedPlanes, expectedScales, KernelPath.Scalar);
            var levels = Levels(expectedPlanes, n);
            for (int b = 0; b < expectedScales.Length; b++)
            {
                int start = Math.Min(b * Int6Blocks.BlockLength, n), length = Math.Clamp(n - start, 0, Int6Blocks.BlockLength);
                float max = length == 0 ? 0 : v.AsSpan(start, length).ToArray().Max(Math.Abs), s = Int6Blocks.Scale(expectedScales[b]);
                Assert.InRange(s, max / Int6Blocks.MaxLevel, (float)(max / Int6Blocks.MaxLevel * (1 + 1.0 / 128)));
                for (int i = start; i < start + length; i++)
                {
                    Assert.InRange(levels[i], -Int6Blocks.MaxLevel, Int6Blocks.MaxLevel);
                    Assert.True(Math.Abs(v[i] - s * levels[i]) <= s / 2 * (1 + 1e-5), $"n={n} i={i}: {v[i]} → {levels[i]}·{s}");
                }
            }
            Assert.All(levels[n..], level => Assert.Equal(0, level));
            foreach (var path in KernelData.VectorPaths)
            {
                var planes = new byte[expectedPlanes.Length];
                planes.AsSpan().Fill(0xAA);
                var scales = new ushort[expectedScales.Length];
                Int6Blocks.QuantizeRow(v, planes, scales, path);
                Assert.Equal(expectedPlanes, planes);
                Assert.Equal(expectedScales, scales);
            }
        }
    }

    [Fact]
    public void QuantizeInput_is_the_int8_quantiser_in_group_order_with_the_block_offsets()
    {
        foreach (int n in KernelData.Lengths)
        {
            var x = KernelData.Floats(n, n + 3, 2f);
            var int8 = new sbyte[Int8Blocks.PaddedLength(n)];
            var int8Scales = new float[Int8Blocks.BlockCount(n)];
            Int8Blocks.Quantize(x, int8, int8Scales);
            var (levels, scales, offsets) = QuantizeInput(x);
            for (int b = 0; b < scales.Length; b++)
            {
                Assert.Equal(b < int8Scales.Length ? int8Scales[b] : 0, scales[b]);
                int sum = 0;
                for (int i = b * 32; i < b * 32 + 32; i++)
                {
                    sbyte level = levels[i / 256 * 256 + Int6Blocks.GroupPosition(i % 256)];
                    Assert.Equal(i < int8.Length ? int8[i] : 0, level);
                    sum += level;
                }
                Assert.Equal(Int6Blocks.Offset * sum, offsets[b]);
            }
        }
    }

    [Fact]
    public void Mismatched_lengths_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => Int6Blocks.QuantizeRow(new float[33], new byte[191], new ushort[8]));
        Assert.Throws<ArgumentException>(() => Int6Blocks.QuantizeRow(new float[33], new byte[192], new ushort[2]));
        Assert.Throws<ArgumentException>(() => Int6Blocks.QuantizeInput(new float[33], new sbyte[64], new float[8], new int[8]));
        Assert.Throws<ArgumentException>(() => Int6Blocks.QuantizeInput(new float[33], new sbyte[256], new float[8], new int[2]));
        Assert.Throws<ArgumentException>(() => Int6BlockRows.DotRows(new byte[192], new ushort[8], new sbyte[255], new float[8], new int[8], new float[1]));
        Assert.Throws<ArgumentException>(() => Int6BlockRows.DotRows(new byte[192], new ushort[8], new sbyte[256], new float[8], new int[7], new float[1]));
        Assert.Throws<ArgumentException>(() => Int6BlockRows.DotRows(new byte[192], new ushort[8], new sbyte[256], new float[8], new int[8], new float[2]));
        Assert.Throws<ArgumentException>(() => Int6BlockRows.DotRows(new byte[384], new ushort[8], new sbyte[256], new float[8], new int[8], new float[2]));
    }

    [Theory]
    [MemberData(nameof(RealShapes))]
    public void A_batch_of_tokens_gives_every_token_its_one_token_result_bit_for_bit_on_every_path(int rows, int columns)
    {
        // 1..2·MaxTileTokens + 1 tokens: one token, one slice, several slices and a short last slice.
        var random = new Random(rows * 7 + columns);
        var w = new float[rows * columns];
        for (int i = 0; i < w.Length; i++) w[i] = (float)(random.NextDouble() * 2 - 1) * (i % 37 == 0 ? 8 : 1);
        var (planes, weightScales) = QuantizeRows(w, rows, columns);
        foreach (int tokens in new[] { 1, 2, 5, Int6BlockRows.MaxTileTokens, 2 * Int6BlockRows.MaxTileTokens + 1 })
        {
            var inputs = Enumerable.Range(0, tokens).Select(_ =>
            {
                var x = new float[columns];
                for (int i = 0; i < columns; i++) x[i] = (float)(random.NextDouble() * 2 - 1) * (i % 41 == 0 ? 8 : 1);
                return QuantizeInput(x);
            }).ToArray();
            var levels = inputs.SelectMany(i => i.Levels).ToArray();
            var levelScales = inputs.SelectMany(i => i.Scales).ToArray();
            var offsets = inputs.SelectMany(i => i.Offsets).ToArray();
            int ldy = rows + 3;
            foreach (var path in KernelData.Int8VectorPaths.Prepend(Int8CodedRows.Path.Scalar))
            {
                var y = new float[(tokens - 1) * ldy + rows];
                Int6BlockRows.DotRowsTokens(planes, weightScales, rows, levels, levelScales, offsets, tokens, y, ldy, path);
                for (int t = 0; t < tokens; t++)
                {
                    var expected = new float[rows];
                    Int6BlockRows.DotRows(planes, weightScales, inputs[t].Levels, inputs[t].Scales, inputs[t].Offsets, expected, Int8CodedRows.Path.Scalar);
                    Assert.True(expected.AsSpan().SequenceEqual(y.AsSpan(t * ldy, rows)), $"{rows}×{columns}, {tokens} tokens, token {t}, {path}");
                }
            }
        }
    }

    private static void AssertPathsAgree(Matrix m, int rows, string what)
    {
        var expected = new float[rows];
        Int6BlockRows.DotRows(m.Planes, m.WeightScales, m.Levels, m.LevelScales, m.Offsets, expected, Int8CodedRows.Path.Scalar);
        Assert.Contains(expected, v => v != 0);
        foreach (var path in KernelData.Int8VectorPaths)
        {
            var y = new float[rows];
            Int6BlockRows.DotRows(m.Planes, m.WeightScales, m.Levels, m.LevelScales, m.Offsets, y, path);
            Assert.True(expected.AsSpan().SequenceEqual(y), $"{what} {path}");
        }
    }

    private sealed record Matrix(byte[] Planes, ushort[] WeightScales, sbyte[] Levels, float[] LevelScales, int[] Offsets);

    /// <summary>
    /// Rows and an input of n entries quantised from random floats with an outlier every 37 entries, so blocks hold both
    /// extreme and small levels.
    /// </summary>
    private static Matrix Case(Random random, int n, int rows)
    {
        var w = Floats(random, rows * n);
        var (planes, weightScales) = QuantizeRows(w, rows, n);
        var (levels, levelScales, offsets) = QuantizeInput(Floats(random, n));
        return new Matrix(planes, weightScales, levels, levelScales, offsets);

        static float[] Floats(Random random, int count)
        {
            var v = new float[count];
            for (int i = 0; i < count; i++) v[i] = (float)(random.NextDouble() * 2 - 1) * (i % 37 == 0 ? 8 : 1);
            return v;
        }
    }

    private static (byte[] Planes, ushort[] Scales) QuantizeRows(float[] w, int rows, int n)
    {
        int rowBytes = (int)Int6Blocks.RowBytes(n), blocks = Int6Blocks.BlockCount(n);
        var planes = new byte[rows * rowBytes];
        var scales = new ushort[rows * blocks];
        for (int r = 0; r < rows; r++)
            Int6Blocks.QuantizeRow(w.AsSpan(r * n, n), planes.AsSpan(r * rowBytes, rowBytes), scales.AsSpan(r * blocks, blocks));
        return (planes, scales);
    }

    private static (sbyte[] Levels, float[] Scales, int[] Offsets) QuantizeInput(float[] x)
    {
        var levels = new sbyte[Int6Blocks.PaddedLength(x.Length)];
        var scales = new float[Int6Blocks.BlockCount(x.Length)];
        var offsets = new int[scales.Length];
        Int6Blocks.QuantizeInput(x, levels, scales, offsets);
        return (levels, scales, offsets);
    }

    /// <summary>32·Σ levels per block of group-ordered levels, counted from the definition (block = (position / 4) mod 8).</summary>
    private static int[] Offsets(sbyte[] levels)
    {
        var offsets = new int[levels.Length / 32];
        for (int p = 0; p < levels.Length; p++) offsets[p / 256 * 8 + p / 4 % 8] += Int6Blocks.Offset * levels[p];
        return offsets;
    }

    /// <summary>q of a row's entries in column order (padding included), read back from the planes.</summary>
    private static int[] Levels(byte[] planes, int n)
    {
        var q = new int[Int6Blocks.PaddedLength(n)];
        for (int i = 0; i < q.Length; i++)
        {
            var group = planes.AsSpan(i / 256 * Int6Blocks.GroupBytes, Int6Blocks.GroupBytes);
            q[i] = Int6Blocks.StoredLevel(group, Int6Blocks.GroupPosition(i % 256)) - Int6Blocks.Offset;
        }
        return q;
    }

    private static float[] Dequantised(byte[] planes, ushort[] scales, int rows, int n)
    {
        int rowBytes = (int)Int6Blocks.RowBytes(n), blocks = Int6Blocks.BlockCount(n);
        var w = new float[rows * n];
        for (int r = 0; r < rows; r++)
        {
            var q = Levels(planes.AsSpan(r * rowBytes, rowBytes).ToArray(), n);
            for (int i = 0; i < n; i++) w[r * n + i] = Int6Blocks.Scale(scales[r * blocks + i / 32]) * q[i];
        }
        return w;
    }

    private static float[] DequantisedInput(Matrix m, int n)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = m.LevelScales[i / 32] * m.Levels[i / 256 * 256 + Int6Blocks.GroupPosition(i % 256)];
        return x;
    }
}
