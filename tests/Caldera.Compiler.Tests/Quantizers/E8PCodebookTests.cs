using System.Numerics.Tensors;
using Caldera.Compiler.Quantizers;

namespace Caldera.Compiler.Tests.Quantizers;

public class E8PCodebookTests
{
    /// <summary>
    /// Ours and the brute force sum ‖x−c‖² in different orders: near-ties can differ by rounding, which is a
    /// few float ulps of the squared norms involved.
    /// </summary>
    private const double RelativeDistanceTolerance = 1e-5;

    /// <summary>The decode table coordinate-major, so brute force runs as 8 vectorised passes over all codes.</summary>
    private static readonly float[][] CodewordCoordinates = BuildCodewordCoordinates();

    private readonly float[] distance = new float[E8PCodebook.CodeCount];
    private readonly float[] difference = new float[E8PCodebook.CodeCount];

    private static float[][] BuildCodewordCoordinates()
    {
        var columns = new float[8][];
        for (int i = 0; i < 8; i++)
        {
            columns[i] = new float[E8PCodebook.CodeCount];
            for (int c = 0; c < E8PCodebook.CodeCount; c++) columns[i][c] = E8PCodebook.DecodeTable[8 * c + i];
        }
        return columns;
    }

    /// <summary>min over all 65,536 codewords c of Σ_{i &lt; x.Length} (cᵢ − xᵢ)².</summary>
    private double BruteForceMinimum(ReadOnlySpan<float> x)
    {
        distance.AsSpan().Clear();
        for (int i = 0; i < x.Length; i++)
        {
            TensorPrimitives.Subtract(CodewordCoordinates[i], x[i], difference);
            TensorPrimitives.MultiplyAdd(difference, difference, distance, distance);
        }
        return TensorPrimitives.Min(distance);
    }

    [Fact]
    public void Pattern_table_holds_227_patterns_of_norm_at_most_ten_then_29_of_norm_twelve()
    {
        ReadOnlySpan<float> patterns = E8PCodebook.AbsolutePatterns;
        var seen = new HashSet<string>();
        for (int p = 0; p < 256; p++)
        {
            ReadOnlySpan<float> pattern = patterns.Slice(8 * p, 8);
            float norm = 0;
            int halves = 0;
            foreach (float v in pattern)
            {
                Assert.Equal(0.5f, v - MathF.Floor(v));
                norm += v * v;
                if (v == 0.5f) halves++;
            }
            if (p < 227) Assert.True(norm <= 10f, $"pattern {p} has norm {norm}");
            else Assert.True(norm == 12f && halves == 3 && pattern.IndexOf(2.5f) < 0, $"pattern {p} is not a norm-12 pattern of three ½ and five 3/2");
            Assert.True(seen.Add(string.Join(",", pattern.ToArray())), $"pattern {p} repeats");
        }
        // The two patterns named last in the codebook's list: ½ at {0,1,4}, then at {2,3,7}.
        Assert.Equal(new[] { 0.5f, 0.5f, 1.5f, 1.5f, 0.5f, 1.5f, 1.5f, 1.5f }, patterns.Slice(8 * 254, 8).ToArray());
        Assert.Equal(new[] { 1.5f, 1.5f, 0.5f, 0.5f, 1.5f, 1.5f, 1.5f, 0.5f }, patterns.Slice(8 * 255, 8).ToArray());
    }

    [Fact]
    public void Every_code_decodes_to_a_distinct_shifted_point_of_the_half_integer_E8_coset()
    {
        var points = new HashSet<long>();
        Span<float> y = stackalloc float[8];
        for (int code = 0; code < E8PCodebook.CodeCount; code++)
        {
            E8PCodebook.Decode((ushort)code, y);
            float sigma = (code & 1) == 0 ? 0.25f : -0.25f;
            int twiceSum = 0;
            float norm = 0;
            long key = 0;
            for (int i = 0; i < 8; i++)
            {
                float v = y[i] - sigma;
                float twice = 2 * v;
                Assert.True(twice == MathF.Round(twice) && ((int)twice & 1) != 0, $"code {code}: entry {i} = {v} is not in ℤ+½");
                Assert.Equal(E8PCodebook.AbsolutePatterns[8 * (code >> 8) + i], MathF.Abs(v));
                twiceSum += (int)twice;
                norm += v * v;
                key = key * 16 + ((int)(4 * y[i]) + 8); // 4y is an integer in [−11, 11]
            }
            Assert.True(twiceSum % 4 == 0, $"code {code}: Σy = {twiceSum / 2.0} is not even");
            Assert.True(norm <= 10f || norm == 12f, $"code {code}: ‖y‖² = {norm}");
            Assert.True(points.Add(key * 2 + (code & 1)), $"code {code} repeats a codeword");
        }
        Assert.Equal(65536, points.Count);
    }

    public static TheoryData<string, float, float> Scales => new()
    {
        { "small", 0.3f, 0f },
        { "unit-rms 1.03", 1.03f, 0f },
        { "wide", 2.5f, 0f },
        { "outliers", 1.03f, 12f },
    };

    [Theory]
    [MemberData(nameof(Scales))]
    public void Quantize_finds_the_nearest_of_all_65536_codewords(string name, float sigma, float outlier)
    {
        var random = new Random(name.Length * 7919 + 1);
        Span<float> q = stackalloc float[8];
        Span<float> decoded = stackalloc float[8];
        for (int trial = 0; trial < 1000; trial++)
        {
            float[] x = TestData.Gaussian(random, 8, sigma);
            if (outlier > 0) x[random.Next(8)] = outlier * (random.Next(2) == 0 ? 1 : -1) * (float)(0.5 + random.NextDouble());
            ushort code = E8PCodebook.Quantize(x, q);
            E8PCodebook.Decode(code, decoded);
            Assert.True(q.SequenceEqual(decoded), $"{name} #{trial}: the written codeword differs from Decode(code)");

            double ours = TestData.SquaredDistance(x, q);
            double best = BruteForceMinimum(x);
            Assert.True(ours <= best + RelativeDistanceTolerance * (1 + best), $"{name} #{trial}: ours {ours}, brute force {best}");
        }
    }

    [Fact]
    public void Partial_vector_is_nearest_on_its_present_coordinates()
    {
        var random = new Random(17);
        Span<ushort> code = stackalloc ushort[1];
        Span<float> decoded = stackalloc float[8];
        for (int present = 1; present < 8; present++)
            for (int trial = 0; trial < 200; trial++)
            {
                float[] x = TestData.Gaussian(random, present, 1.03f);
                var q = new float[present];
                E8PCodebook.QuantizeRow(x, q, code);
                E8PCodebook.Decode(code[0], decoded);
                Assert.True(decoded[..present].SequenceEqual(q), $"present {present}: written values differ from the decoded codeword");

                double ours = TestData.SquaredDistance(x, q);
                double best = BruteForceMinimum(x);
                Assert.True(ours <= best + RelativeDistanceTolerance * (1 + best), $"present {present} #{trial}: ours {ours}, brute force {best}");
            }
    }

    [Fact]
    public void Vector_search_paths_pick_the_same_candidate_as_the_scalar_path()
    {
        var random = new Random(5);
        for (int trial = 0; trial < 4000; trial++)
        {
            float[] x = TestData.Gaussian(random, 8, trial % 3 == 0 ? 0.4f : 1.5f);
            if (trial % 7 == 0) x[trial % 8] = 0.25f; // a = 0 on one coordinate: min tᵢ ties at zero
            // Both widths run everywhere: where the CPU lacks one, .NET emulates its vectors in software.
            int expected = E8PNearest.SearchScalar(x);
            Assert.Equal(expected, E8PNearest.SearchVector256(x));
            Assert.Equal(expected, E8PNearest.SearchVector512(x));
        }
    }

    [Fact]
    public void Vector_compose_writes_the_same_code_and_codeword_as_the_scalar_path()
    {
        // Vector256 is emulated in software where the CPU lacks it, so this compares the same code on every CPU.
        var random = new Random(11);
        Span<float> expected = stackalloc float[8], actual = stackalloc float[8];
        for (int trial = 0; trial < 4000; trial++)
        {
            float[] x = TestData.Gaussian(random, 8, trial % 3 == 0 ? 0.4f : 1.5f);
            int candidate = trial % 5 == 0 ? random.Next(512) : E8PNearest.SearchReference(x);
            // Ties of tᵢ: zᵢ = 0 on two coordinates (the lowest must be flipped), or equal |zᵢ| on equal pattern values.
            if (trial % 7 == 0) x[trial % 8] = x[(trial + 3) % 8] = E8PCodebook.ShiftValue(candidate >> 8);
            if (trial % 11 == 0) x[2] = 2 * E8PCodebook.ShiftValue(candidate >> 8) - x[5];
            ushort code = E8PNearest.ComposeScalar(x, candidate, expected);
            Assert.Equal(code, E8PNearest.ComposeVector256(x, candidate, actual));
            Assert.True(expected.SequenceEqual(actual), $"trial {trial}: codewords differ");
        }
    }

    [Fact]
    public void Quantize_row_equals_per_vector_quantization_and_decodes_back()
    {
        var random = new Random(3);
        foreach (int length in new[] { 8, 64, 172, 13 })
        {
            float[] x = TestData.Gaussian(random, length);
            var q = new float[length];
            var codes = new ushort[E8PCodebook.VectorCount(length)];
            E8PCodebook.QuantizeRow(x, q, codes);
            var single = new float[8];
            for (int v = 0; v < length / 8; v++)
            {
                Assert.Equal(E8PCodebook.Quantize(x.AsSpan(8 * v, 8), single), codes[v]);
                Assert.Equal(single, q.AsSpan(8 * v, 8).ToArray());
            }
            var decoded = new float[length];
            E8PCodebook.DecodeRow(codes, decoded);
            Assert.Equal(q, decoded);
        }
    }

    [Fact]
    public void Non_finite_input_is_rejected_with_its_position()
    {
        var x = new float[] { 0, 1, 2, float.NaN, 0, 0, 0, 0 };
        var error = Assert.Throws<ArgumentException>(() => E8PCodebook.Quantize(x, new float[8]));
        Assert.Contains("x8[3]", error.Message);
        Assert.Throws<ArgumentException>(() => E8PCodebook.QuantizeRow(new float[] { 1, float.PositiveInfinity }, new float[2], new ushort[1]));
    }
}
