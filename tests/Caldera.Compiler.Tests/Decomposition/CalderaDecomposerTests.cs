using Caldera.Compiler.Decomposition;
using Caldera.Compiler.LinearAlgebra;
using Xunit.Abstractions;

namespace Caldera.Compiler.Tests.Decomposition;

public class CalderaDecomposerTests(ITestOutputHelper output)
{
    /// <summary>
    /// Applying from codes sums in a different order (and through fp32 transforms) than the dense
    /// reconstruction; 1e-5 relative is a few fp32 ulps of accumulated rounding over n ≈ 256 terms.
    /// </summary>
    private const double ApplyTolerance = 1e-5;

    private static readonly CalderaOptions Test = CalderaOptions.Fast with { Threads = 2 };

    private static readonly Lazy<SyntheticMatrix> Synthetic = new(() => SyntheticMatrix.Create(192, 256, seed: 11));

    [Fact]
    public void Errors_are_ordered_caldera_below_ldlq_below_nearest_below_uniform()
    {
        var (w, h) = Synthetic.Value;
        double uniform = RoundToNearest.Compress(w, h, bits: 2).RelativeError;
        double nearest = CalderaDecomposer.Decompose(w, h, Test with { Rank = 0, QRounding = QRounding.Nearest }).RelativeError;
        double ldlq = CalderaDecomposer.Decompose(w, h, Test with { Rank = 0 }).RelativeError;
        double caldera = CalderaDecomposer.Decompose(w, h, Test with { Rank = 64 }).RelativeError;
        output.WriteLine($"uniform 2-bit RTN {uniform:F4} | E8P nearest {nearest:F4} | E8P LDLQ rank 0 {ldlq:F4} | CALDERA rank 64 {caldera:F4}");

        Assert.True(caldera < ldlq, $"CALDERA {caldera} should beat LDLQ {ldlq}");
        Assert.True(ldlq < nearest, $"LDLQ {ldlq} should beat nearest rounding {nearest}");
        Assert.True(nearest < uniform, $"E8P nearest {nearest} should beat uniform RTN {uniform}");
    }

    [Fact]
    public void Error_falls_as_rank_grows_and_16_bit_factors_beat_4_bit()
    {
        var (w, h) = Synthetic.Value;
        double r16 = CalderaDecomposer.Decompose(w, h, Test with { Rank = 16 }).RelativeError;
        double r32 = CalderaDecomposer.Decompose(w, h, Test with { Rank = 32 }).RelativeError;
        double r64 = CalderaDecomposer.Decompose(w, h, Test with { Rank = 64 }).RelativeError;
        double r32Half = CalderaDecomposer.Decompose(w, h, Test with { Rank = 32, FactorBits = 16 }).RelativeError;
        output.WriteLine($"rank 16: {r16:F4}, rank 32: {r32:F4}, rank 64: {r64:F4}; rank 32 with 16-bit factors: {r32Half:F4}");

        Assert.True(r32 < r16, $"rank 32 ({r32}) should beat rank 16 ({r16})");
        Assert.True(r64 < r32, $"rank 64 ({r64}) should beat rank 32 ({r32})");
        Assert.True(r32Half < r32, $"16-bit factors ({r32Half}) should beat 4-bit ({r32}) at rank 32");
    }

    [Fact]
    public void Applying_from_codes_equals_the_reconstruction_times_x()
    {
        var (w, h) = Synthetic.Value;
        foreach (var options in new[] { Test with { Rank = 16 }, Test with { Rank = 8, FactorBits = 16 } })
        {
            var c = CalderaDecomposer.Decompose(w, h, options);
            AssertApplyMatchesReconstruction(c, seed: 5);
        }
        AssertApplyMatchesReconstruction(RoundToNearest.Compress(w, h, bits: 3), seed: 6);
    }

    [Theory]
    [InlineData(172, 64)]   // stories260K w1/w3: n = 64 rows in, 172 out
    [InlineData(64, 172)]   // stories260K w2: 172 inputs, not a multiple of 8, no Hadamard block of order 43
    [InlineData(37, 45)]    // odd everything
    public void Odd_shapes_decompose_and_apply_consistently(int m, int n)
    {
        var matrix = SyntheticMatrix.Create(m, n, seed: m + n, tokens: 512);
        var c = CalderaDecomposer.Decompose(matrix.W, matrix.H, Test with { Rank = 8 });
        var rank0 = CalderaDecomposer.Decompose(matrix.W, matrix.H, Test with { Rank = 0 });
        output.WriteLine($"{m}×{n}: rank 8 {c.RelativeError:F4}, rank 0 {rank0.RelativeError:F4}, {c.BitsPerWeight:F2} bits/weight");
        Assert.True(c.RelativeError < rank0.RelativeError);
        Assert.True(c.RelativeError < 0.5, $"error {c.RelativeError} is not a useful approximation");
        AssertApplyMatchesReconstruction(c, seed: 7);
    }

    [Fact]
    public void Full_rank_half_precision_factors_reproduce_W()
    {
        // With k = min(m, n) and 16-bit factors, L·R alone represents W up to half-precision rounding, so Q + L·R
        // must reproduce the dense W closely: a differential check of the whole pipeline against W itself.
        var matrix = SyntheticMatrix.Create(48, 64, seed: 3, tokens: 512);
        var c = CalderaDecomposer.Decompose(matrix.W, matrix.H, Test with { Rank = 48, FactorBits = 16 });
        var dense = c.Reconstruct();
        double error = ActivationAwareError.Relative(matrix.W, dense, Hessian.Regularize(matrix.H, 0.01));
        output.WriteLine($"full-rank error {error:E3}");
        Assert.True(error < 5e-3, $"full-rank reconstruction error {error}");
    }

    [Fact]
    public void Same_inputs_and_seed_give_identical_codes_for_any_thread_count()
    {
        var matrix = SyntheticMatrix.Create(64, 128, seed: 9, tokens: 512);
        var one = CalderaDecomposer.Decompose(matrix.W, matrix.H, Test with { Rank = 16, Threads = 1 });
        var two = CalderaDecomposer.Decompose(matrix.W, matrix.H, Test with { Rank = 16, Threads = 2 });
        Assert.Equal(one.Q.Codes, two.Q.Codes);
        Assert.Equal(one.Q.Scale, two.Q.Scale);
        Assert.Equal(one.Factors.LTransposedCodes!.Codes, two.Factors.LTransposedCodes!.Codes);
        Assert.Equal(one.Factors.RCodes!.Codes, two.Factors.RCodes!.Codes);
        Assert.Equal(one.Factors.RCodes.Scale, two.Factors.RCodes.Scale);
        Assert.Equal(one.InputTransform!.Signs.ToArray(), two.InputTransform!.Signs.ToArray());
        Assert.Equal(one.RelativeError, two.RelativeError);

        var otherSeed = CalderaDecomposer.Decompose(matrix.W, matrix.H, Test with { Rank = 16, Seed = 43 });
        Assert.NotEqual(one.Q.Codes, otherSeed.Q.Codes);
    }

    [Fact]
    public void Bits_per_weight_follow_the_paper_formula()
    {
        var matrix = SyntheticMatrix.Create(256, 256, seed: 1, tokens: 512);
        var c = CalderaDecomposer.Decompose(matrix.W, matrix.H, Test with { Rank = 16, OuterIterations = 1, InnerIterations = 1 });
        // B_Q + k(m·B_L + n·B_R)/(mn) = 2 + 16·(256·4 + 256·4)/256² = 2.5, plus signs and scales.
        double expected = 2 + 16.0 * (256 * 4 + 256 * 4) / (256 * 256) + (512 + 128) / (256.0 * 256);
        Assert.Equal(expected, c.BitsPerWeight, 6);

        // Rank 0 stores Q alone; a uniform 2-bit code is bit-packed and has no transforms.
        var rank0 = CalderaDecomposer.Decompose(matrix.W, matrix.H, Test with { Rank = 0 });
        Assert.Equal(2 + (512 + 128) / (256.0 * 256), rank0.BitsPerWeight, 6);
        Assert.Equal(2 + 128 / (256.0 * 256), RoundToNearest.Compress(matrix.W, matrix.H, bits: 2).BitsPerWeight, 6);
    }

    [Fact]
    public void Invalid_settings_name_the_setting()
    {
        var matrix = SyntheticMatrix.Create(16, 16, seed: 2, tokens: 64);
        var e = Assert.Throws<ArgumentException>(() => CalderaDecomposer.Decompose(matrix.W, matrix.H, Test with { FactorBits = 3 }));
        Assert.Contains("FactorBits", e.Message);
        e = Assert.Throws<ArgumentException>(() => CalderaDecomposer.Decompose(matrix.W, matrix.H, Test with { Rank = -1 }));
        Assert.Contains("Rank", e.Message);
    }

    private static void AssertApplyMatchesReconstruction(CompressedMatrix c, int seed)
    {
        var random = new Random(seed);
        var x = TestData.Gaussian(random, c.Columns);
        var dense = c.Reconstruct();
        var expected = new float[c.Rows];
        for (int i = 0; i < c.Rows; i++)
        {
            double sum = 0;
            for (int j = 0; j < c.Columns; j++) sum += (double)dense[i, j] * x[j];
            expected[i] = (float)sum;
        }
        var actual = new float[c.Rows];
        c.Apply(x, actual);
        double norm = Math.Sqrt(TestData.SquaredDistance(expected, new float[c.Rows]));
        double error = Math.Sqrt(TestData.SquaredDistance(expected, actual));
        Assert.True(error <= ApplyTolerance * norm, $"‖Ŵx − apply(x)‖ = {error}, ‖Ŵx‖ = {norm}");
    }
}
