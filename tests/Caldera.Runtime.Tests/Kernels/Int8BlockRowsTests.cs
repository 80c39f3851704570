using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Tests.Kernels;

public class Int8BlockRowsTests
{
    /// <summary>
    /// The scalar path sums exact int32 block products, then ⌈n/32⌉ float terms (s_w·s_x)·S_b into eight lanes and adds
    /// the lanes: each term is rounded at most three times (the scale product, its fused multiply-add, the lane adds on
    /// top of it), so its distance from the same sum in double is a few ε = 2⁻²³ of Σ|terms| (slack 4ε per term).
    /// </summary>
    private const double RoundingPerTerm = 1.2e-7 * 4;

    /// <summary>Classifier shapes (rows × columns): stories260K, tinystories-256d and the synthetic dim-2048 Llama.</summary>
    public static TheoryData<int, int> ClassifierShapes => new() { { 512, 64 }, { 512, 256 }, { 32000, 2048 } };

    [Fact]
    public void The_scalar_path_is_the_dequantised_rows_dotted_with_the_dequantised_vector()
    {
        var random = new Random(3);
        foreach (int n in KernelData.Lengths)
        {
            var m = Case(random, n, rows: 3);
            var y = new float[3];
            Int8BlockRows.DotRows(m.Weights, m.WeightScales, m.Levels, m.LevelScales, y, Int8CodedRows.Path.Scalar);
            for (int r = 0; r < 3; r++)
            {
                double dot = 0, abs = 0;
                for (int i = 0; i < m.Levels.Length; i++)
                {
                    int b = i / Int8Blocks.BlockLength;
                    double term = (double)m.WeightScales[r * m.LevelScales.Length + b] * m.Weights[r * m.Levels.Length + i] * m.LevelScales[b] * m.Levels[i];
                    dot += term;
                    abs += Math.Abs(term);
                }
                Assert.True(Math.Abs(y[r] - dot) <= RoundingPerTerm * (m.LevelScales.Length + 1) * abs + 1e-30, $"n={n} r={r}: {y[r]} vs {dot}");
            }
        }
    }

    [Fact]
    public void Every_vector_path_equals_the_scalar_path_bit_for_bit_at_many_lengths()
    {
        // Block sums are exact integers and the float sum over blocks runs in one order on every path.
        var random = new Random(5);
        foreach (int n in KernelData.Lengths.Concat([32 * 7, 32 * 8 + 1, 32 * 9, 32 * 17]))
            foreach (int rows in new[] { 1, 3, 8 })
                AssertPathsAgree(Case(random, n, rows), rows, $"n={n} rows={rows}");
    }

    [Theory]
    [MemberData(nameof(ClassifierShapes))]
    public void Every_vector_path_equals_the_scalar_path_at_the_real_classifier_shapes(int rows, int columns) =>
        AssertPathsAgree(Case(new Random(rows + columns), columns, rows), rows, $"{rows}×{columns}");

    [Fact]
    public void Extreme_levels_do_not_overflow_any_path()
    {
        // Every product ±127·127: a block sums to ±32·127², the largest |S| there is.
        int n = 2048, blocks = Int8Blocks.BlockCount(n);
        var weights = new sbyte[n];
        var levels = new sbyte[n];
        for (int i = 0; i < n; i++)
        {
            weights[i] = (sbyte)(i % 64 < 32 ? 127 : -127);
            levels[i] = (sbyte)(i % 96 < 32 ? -127 : 127);
        }
        var ones = Enumerable.Repeat(1f, blocks).ToArray();
        double exact = 0;
        for (int i = 0; i < n; i++) exact += weights[i] * levels[i];
        var expected = new float[1];
        Int8BlockRows.DotRows(weights, ones, levels, ones, expected, Int8CodedRows.Path.Scalar);
        Assert.Equal(exact, expected[0]);
        foreach (var path in KernelData.Int8VectorPaths)
        {
            var y = new float[1];
            Int8BlockRows.DotRows(weights, ones, levels, ones, y, path);
            Assert.Equal(expected[0], y[0]);
        }
    }

    [Fact]
    public void The_int8_result_is_within_the_quantisation_bound_of_the_float_product()
    {
        // W·x − Ŵ·x̂ = W·(x − x̂) + (W − Ŵ)·x̂, and each level is its entry rounded to nearest, so per row
        // |W·x − Ŵ·x̂| ≤ Σ_b (s_x[b]/2·Σ_{i∈b}|W_ri| + s_w[r,b]/2·Σ_{i∈b}|x̂_i|), plus the float rounding of both sums.
        foreach (int n in new[] { 17, 64, 65, 256, 2048 })
        {
            const int rows = 8;
            var w = KernelData.Floats(rows * n, n, 0.1f);
            w[3] = 5; // an outlier coarsens only its own block
            var x = KernelData.Floats(n, n + 1, 3f);
            int padded = Int8Blocks.PaddedLength(n), blocks = Int8Blocks.BlockCount(n);
            var weights = new sbyte[rows * padded];
            var weightScales = new float[rows * blocks];
            for (int r = 0; r < rows; r++)
                Int8Blocks.Quantize(w.AsSpan(r * n, n), weights.AsSpan(r * padded, padded), weightScales.AsSpan(r * blocks, blocks));
            var levels = new sbyte[padded];
            var levelScales = new float[blocks];
            Int8Blocks.Quantize(x, levels, levelScales);
            var y = new float[rows];
            Int8BlockRows.DotRows(weights, weightScales, levels, levelScales, y);
            for (int r = 0; r < rows; r++)
            {
                double exact = 0, bound = 0, abs = 0;
                for (int i = 0; i < n; i++)
                {
                    int b = i / Int8Blocks.BlockLength;
                    exact += (double)w[r * n + i] * x[i];
                    abs += Math.Abs((double)w[r * n + i] * x[i]);
                    bound += levelScales[b] / 2 * Math.Abs(w[r * n + i]) + weightScales[r * blocks + b] / 2 * Math.Abs(levelScales[b] * levels[i]);
                }
                bound += RoundingPerTerm * (blocks + 1) * (abs + bound);
                Assert.True(Math.Abs(y[r] - exact) <= bound, $"n={n} r={r}: int8 {y[r]} vs exact {exact}, bound {bound}");
            }
        }
    }

    [Fact]
    public void Quantize_rounds_to_the_nearest_level_of_each_block_and_pads_with_zeros()
    {
        foreach (int n in KernelData.Lengths)
        {
            var v = KernelData.Floats(n, n + 2, 5f);
            if (n > 70) v.AsSpan(32, 32).Clear(); // an all-zero block has scale 0 and zero levels
            var expectedQ = new sbyte[Int8Blocks.PaddedLength(n)];
            var expectedScales = new float[Int8Blocks.BlockCount(n)];
            Int8Blocks.Quantize(v, expectedQ, expectedScales, KernelPath.Scalar);
            for (int i = 0; i < n; i++)
            {
                float s = expectedScales[i / Int8Blocks.BlockLength];
                Assert.InRange(expectedQ[i], -Int8Activations.MaxLevel, Int8Activations.MaxLevel);
                Assert.True(Math.Abs(v[i] - s * expectedQ[i]) <= s / 2 * (1 + 1e-5), $"n={n} i={i}: {v[i]} → {expectedQ[i]}·{s}");
            }
            for (int b = 0; b < expectedScales.Length; b++)
            {
                int start = b * Int8Blocks.BlockLength, length = Math.Min(Int8Blocks.BlockLength, n - start);
                Assert.Equal(v.AsSpan(start, length).ToArray().Max(Math.Abs) / Int8Activations.MaxLevel, expectedScales[b]);
            }
            Assert.All(expectedQ[n..], level => Assert.Equal(0, level));
            foreach (var path in KernelData.VectorPaths)
            {
                var q = new sbyte[expectedQ.Length];
                q.AsSpan().Fill(99);
                var scales = new float[expectedScales.Length];
                Int8Blocks.Quantize(v, q, scales, path);
                Assert.Equal(expectedQ, q);
                Assert.Equal(expectedScales, scales);
            }
        }
    }

    [Fact]
    public void Mismatched_lengths_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => Int8Blocks.Quantize(new float[33], new sbyte[33], new float[2]));
        Assert.Throws<ArgumentException>(() => Int8Blocks.Quantize(new float[33], new sbyte[64], new float[1]));
        Assert.Throws<ArgumentException>(() => Int8BlockRows.DotRows(new sbyte[64], new float[2], new sbyte[48], new float[2], new float[1]));
        Assert.Throws<ArgumentException>(() => Int8BlockRows.DotRows(new sbyte[64], new float[2], new sbyte[64], new float[2], new float[2]));
        Assert.Throws<ArgumentException>(() => Int8BlockRows.DotRows(new sbyte[128], new float[2], new sbyte[64], new float[2], new float[2]));
    }

    private static void AssertPathsAgree(Matrix m, int rows, string what)
    {
        var expected = new float[rows];
        Int8BlockRows.DotRows(m.Weights, m.WeightScales, m.Levels, m.LevelScales, expected, Int8CodedRows.Path.Scalar);
        foreach (var path in KernelData.Int8VectorPaths)
        {
            var y = new float[rows];
            Int8BlockRows.DotRows(m.Weights, m.WeightScales, m.Levels, m.LevelScales, y, path);
            Assert.True(expected.AsSpan().SequenceEqual(y), $"{what} {path}");
        }
    }

    private sealed record Matrix(sbyte[] Weights, float[] WeightScales, sbyte[] Levels, float[] LevelScales);

    /// <summary>Random levels in [−127, 127] (padding zeroed as the quantiser leaves it) and random positive scales.</summary>
    private static Matrix Case(Random random, int n, int rows)
    {
        int padded = Int8Blocks.PaddedLength(n), blocks = Int8Blocks.BlockCount(n);
        var weights = Levels(random, rows, n, padded);
        var levels = Levels(random, 1, n, padded);
        return new Matrix(weights, Scales(random, rows * blocks), levels, Scales(random, blocks));

        static sbyte[] Levels(Random random, int rows, int n, int padded)
        {
            var q = new sbyte[rows * padded];
            random.NextBytes(MemoryMarshal.AsBytes(q.AsSpan()));
            for (int i = 0; i < q.Length; i++)
                if (q[i] == sbyte.MinValue || i % padded >= n) q[i] = i % padded >= n ? (sbyte)0 : (sbyte)-127;
            return q;
        }

        static float[] Scales(Random random, int count)
        {
            var s = new float[count];
            for (int i = 0; i < count; i++) s[i] = (float)(random.NextDouble() * 0.02 + 1e-4);
            return s;
        }
    }
}
