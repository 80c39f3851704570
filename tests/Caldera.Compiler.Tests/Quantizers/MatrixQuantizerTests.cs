using Caldera.Compiler.Quantizers;

namespace Caldera.Compiler.Tests.Quantizers;

public class MatrixQuantizerTests
{
    /// <summary>RMS is accumulated in double and stored as a float scale: agreement to float precision.</summary>
    private const double ScaleTolerance = 1e-6;

    public static TheoryData<string, int, int> Shapes => new()
    {
        { "E8P", 16, 64 },
        { "E8P", 5, 172 },
        { "E8P", 3, 4 },
        { "E8PResidual", 16, 64 },
        { "E8PResidual", 7, 172 },
    };

    private static LatticeMatrixQuantizer Lattice(string name) =>
        name == "E8P" ? LatticeMatrixQuantizer.E8P : LatticeMatrixQuantizer.E8PResidual;

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Lattice_quantizer_scales_to_target_RMS_rounds_rows_and_decodes_back(string name, int rows, int columns)
    {
        LatticeMatrixQuantizer quantizer = Lattice(name);
        float[] w = TestData.Gaussian(new Random(rows * columns), rows * columns, 0.02f);
        QuantizedMatrix q = quantizer.Quantize(w, rows, columns);

        double rms = Math.Sqrt(w.Sum(v => (double)v * v) / w.Length);
        Assert.Equal(rms / quantizer.TargetRms, q.Scale, ScaleTolerance * rms);

        int words = E8PCodebook.VectorCount(columns) * quantizer.Codebook.WordsPerVector;
        Assert.Equal(words, q.WordsPerRow);
        var x = new float[columns];
        var rounded = new float[columns];
        var rowWords = new ushort[words];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++) x[c] = w[r * columns + c] / q.Scale;
            quantizer.Codebook.QuantizeRow(x, rounded, rowWords);
            Assert.Equal(rowWords, q.Codes.AsSpan(r * words, words).ToArray());
            for (int c = 0; c < columns; c++) Assert.Equal(q.Scale * rounded[c], q.Dequantized[r * columns + c]);
        }

        var decoded = new float[w.Length];
        quantizer.Dequantize(q, decoded);
        Assert.Equal(q.Dequantized, decoded);
    }

    [Fact]
    public void Partial_last_vector_is_no_worse_than_zero_padding_on_its_present_coordinates()
    {
        float[] w = TestData.Gaussian(new Random(8), 40 * 172);
        QuantizedMatrix q = LatticeMatrixQuantizer.E8P.Quantize(w, 40, 172);
        var padded = new float[8];
        var rounded = new float[8];
        double masked = 0, zeroPadded = 0;
        for (int r = 0; r < 40; r++)
        {
            ReadOnlySpan<float> tail = w.AsSpan(r * 172 + 168, 4);
            for (int i = 0; i < 4; i++) padded[i] = tail[i] / q.Scale;
            E8PCodebook.Quantize(padded, rounded);
            double ours = 0, zero = 0;
            for (int i = 0; i < 4; i++)
            {
                double d = tail[i] - q.Dequantized[r * 172 + 168 + i], dz = tail[i] - q.Scale * rounded[i];
                ours += d * d;
                zero += dz * dz;
            }
            Assert.True(ours <= zero * (1 + 1e-5) + 1e-12, $"row {r}: masked {ours}, zero-padded {zero}");
            masked += ours;
            zeroPadded += zero;
        }
        Assert.True(masked < zeroPadded, "the masked search never helped: the pad is not being treated as free");
    }

    [Fact]
    public void At_equal_bits_the_lattice_beats_uniform_round_to_nearest_on_Gaussian_weights()
    {
        float[] w = TestData.Gaussian(new Random(21), 64 * 256);
        double Error(IMatrixQuantizer quantizer) =>
            TestData.SquaredDistance(w, quantizer.Quantize(w, 64, 256).Dequantized) / w.Length;
        IMatrixQuantizer e8p = LatticeMatrixQuantizer.E8P, residual = LatticeMatrixQuantizer.E8PResidual;
        IMatrixQuantizer uniform2 = new UniformMatrixQuantizer(2), uniform4 = new UniformMatrixQuantizer(4);
        Assert.Equal(2, e8p.BitsPerWeight);
        Assert.Equal(4, residual.BitsPerWeight);
        Assert.Equal(4, uniform4.BitsPerWeight);
        Assert.True(Error(e8p) < Error(uniform2), $"E8P {Error(e8p)} vs uniform-2 {Error(uniform2)}");
        Assert.True(Error(residual) < Error(uniform4), $"residual {Error(residual)} vs uniform-4 {Error(uniform4)}");
        Assert.True(Error(residual) < Error(e8p), $"residual {Error(residual)} vs E8P {Error(e8p)}");
    }

    [Fact]
    public void Uniform_matrix_quantizer_uses_one_absmax_step_and_decodes_back()
    {
        float[] w = TestData.Gaussian(new Random(1), 12 * 20);
        var quantizer = new UniformMatrixQuantizer(4);
        QuantizedMatrix q = quantizer.Quantize(w, 12, 20);
        Assert.Equal(w.Max(MathF.Abs) / 7, q.Scale);
        var decoded = new float[w.Length];
        quantizer.Dequantize(q, decoded);
        Assert.Equal(q.Dequantized, decoded);
    }

    [Fact]
    public void All_zero_matrix_is_reproduced_exactly()
    {
        var w = new float[4 * 16];
        foreach (IMatrixQuantizer quantizer in new IMatrixQuantizer[] { LatticeMatrixQuantizer.E8P, LatticeMatrixQuantizer.E8PResidual, new UniformMatrixQuantizer(4) })
        {
            QuantizedMatrix q = quantizer.Quantize(w, 4, 16);
            Assert.Equal(0f, q.Scale);
            Assert.All(q.Dequantized, v => Assert.Equal(0f, v));
        }
    }

    [Fact]
    public void Bad_matrices_are_rejected_with_their_position()
    {
        var w = new float[3 * 8];
        w[2 * 8 + 5] = float.NaN;
        var error = Assert.Throws<ArgumentException>(() => LatticeMatrixQuantizer.E8P.Quantize(w, 3, 8));
        Assert.Contains("row 2, column 5", error.Message);
        Assert.Throws<ArgumentException>(() => LatticeMatrixQuantizer.E8P.Quantize(new float[10], 3, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => new UniformMatrixQuantizer(4).Quantize(new float[0], 0, 4));
        QuantizedMatrix uniform = new UniformMatrixQuantizer(4).Quantize(new float[16], 2, 8);
        Assert.Throws<ArgumentException>(() => LatticeMatrixQuantizer.E8P.Dequantize(uniform, new float[16]));
    }

    [Fact]
    public void The_thread_count_changes_nothing_but_the_threads()
    {
        // 64 rows of 4096, as L and R at rank 64, and a ragged shape whose rows do not split evenly.
        foreach (var (rows, columns) in new[] { (64, 4096), (13, 172) })
        {
            float[] w = TestData.Gaussian(new Random(rows + columns), rows * columns, 0.7f);
            QuantizedMatrix one = LatticeMatrixQuantizer.E8PResidual.Quantize(w, rows, columns, threads: 1);
            foreach (int threads in new[] { 2, 5 })
            {
                QuantizedMatrix other = LatticeMatrixQuantizer.E8PResidual.Quantize(w, rows, columns, threads);
                Assert.Equal(one.Codes, other.Codes);
                Assert.Equal(one.Dequantized, other.Dequantized);
            }
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => LatticeMatrixQuantizer.E8P.Quantize(new float[8], 1, 8, threads: 0));
    }
}
