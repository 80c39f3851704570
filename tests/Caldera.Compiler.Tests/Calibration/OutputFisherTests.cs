using Caldera.Compiler.Calibration;
using Caldera.Compiler.Pipeline;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tokenization;
using Caldera.Runtime.Training.Arithmetic;
using Caldera.Runtime.Training.Model;

namespace Caldera.Compiler.Tests.Calibration;

/// <summary>
/// The output Fisher as a price: a random error ΔW put into one matrix of stories260K raises the mean KLD (measured from
/// the logits before and after) by about ½·F·tr(ΔW·H·ΔWᵀ), H the matrix's input second moment from the calibrator.
/// </summary>
public class OutputFisherTests
{
    /// <summary>
    /// Measured over predicted KLD, allowed within [1/x, x]. The prediction leaves out the correlation of a token's inputs
    /// with its output gradients (K-FAC) and the cubic term, and F comes from one drawn label per token (512 tokens); on
    /// the matrices below the ratio is 0.74–1.46 (deterministic: seeded noise and labels). A price of the wrong matrix, a
    /// missing factor ½ or a gradient of the wrong loss is off by 2× or far more.
    /// </summary>
    private const double RatioTolerance = 1.6;

    /// <summary>ΔW's entries over W's root mean square: small enough that the KLD is quadratic in it.</summary>
    private const double RelativeNoise = 0.02;

    [Theory]
    [InlineData(0, "q")]
    [InlineData(0, "v")]
    [InlineData(1, "o")]
    [InlineData(2, "gate")]
    [InlineData(4, "down")]
    public void A_random_error_costs_about_half_the_fisher_times_its_weighted_energy(int layer, string kind)
    {
        using var checkpoint = ModelCheckpoint.Open(TestModels.Stories260KBin);
        var set = CalibrationSet.Create(new CalibrationText(TestModels.TinyStoriesPrefix(40_000), "tinystories prefix"),
            ModelTokenizer.Load(TestModels.Tok512Model), samples: 8, sequenceLength: 64);
        var matrix = BlockMatrix.All.Single(m => m.Short == kind);
        string name = matrix.Name(layer);
        double fisher = OutputFisher.Measure(checkpoint, set, threads: 2)[name];

        // H = E[x·xᵀ] of the matrix's input, from the calibrator's sum over the same tokens.
        double[,] h;
        using (var calibrator = new LayerwiseCalibrator(checkpoint, set, threads: 2))
        {
            LayerHessians? hessians = null;
            for (int l = 0; l <= layer; l++) hessians = calibrator.Advance(captureHessians: l == layer);
            var accumulator = hessians![matrix.Input];
            double mean = accumulator.SumTrace() / accumulator.Count / accumulator.Dimension;
            var unit = accumulator.RegularizedSingle(0);
            h = new double[unit.Rows, unit.Cols];
            for (int i = 0; i < unit.Rows; i++)
                for (int j = 0; j < unit.Cols; j++) h[i, j] = unit[i, j] * mean;
        }

        // A float copy of the weights to perturb, with zero factors beside each matrix (they add nothing).
        var model = TrainableModel.WithFactors(checkpoint, rank: 1, (_, rows, columns) => (new float[rows], new float[columns]));
        var linear = model.Linears.Single(l => l.Name == name);
        float[] w = ((FloatRows)linear.Parts.Q).Values;
        int m = linear.Rows, n = linear.Columns;
        var before = Logits(model, set);
        double rms = Math.Sqrt(w.Sum(x => (double)x * x) / w.Length);
        var random = new Random(7);
        var delta = new double[m * n];
        for (int i = 0; i < delta.Length; i++)
        {
            delta[i] = RelativeNoise * rms * Gaussian(random);
            w[i] += (float)delta[i];
        }
        var after = Logits(model, set);

        double energy = 0;
        for (int i = 0; i < m; i++)
            for (int a = 0; a < n; a++)
                for (int b = 0; b < n; b++) energy += delta[i * n + a] * h[a, b] * delta[i * n + b];
        double predicted = 0.5 * fisher * energy;
        double measured = MeanKld(before, after, model.Config.VocabSize);
        double ratio = measured / predicted;
        Assert.True(ratio > 1 / RatioTolerance && ratio < RatioTolerance,
            $"{name}: KLD {measured:E3}, predicted ½·F·tr(ΔW·H·ΔWᵀ) = {predicted:E3} (F = {fisher:E3}), ratio {ratio:F3}");
    }

    /// <summary>
    /// The classifier's drawn-label figure against its expectation over the labels, absolute: per token ‖p − e_y‖² lies in
    /// [0, 2] with a standard deviation of at most 1, so the mean of 512 draws has one of at most 0.044 (seeded: it is
    /// 0.014 off here); labels taken as the argmax instead of drawn would be lower by the mean of 2·(p_max − Σp²).
    /// </summary>
    private const double DrawTolerance = 0.1;

    [Fact]
    public void The_classifier_price_is_the_expected_squared_gradient_of_the_logits_over_labels_drawn_from_the_model()
    {
        // ∂ℓ/∂logits = p − e_y, so E_y~p ‖p − e_y‖² = 1 − Σ p²: the classifier's F times the vocabulary is its mean over tokens.
        using var checkpoint = ModelCheckpoint.Open(TestModels.Stories260KBin);
        var set = CalibrationSet.Create(new CalibrationText(TestModels.TinyStoriesPrefix(40_000), "tinystories prefix"),
            ModelTokenizer.Load(TestModels.Tok512Model), samples: 8, sequenceLength: 64);
        double measured = OutputFisher.Measure(checkpoint, set, threads: 2)[TensorNames.Output] * checkpoint.Config.VocabSize;

        int vocab = checkpoint.Config.VocabSize;
        double expected = 0;
        long tokens = 0;
        foreach (var logits in Logits(TrainableModel.Dense(checkpoint), set))
            for (int t = 0; t < logits.Length / vocab; t++, tokens++)
                expected += 1 - LogSoftmax(logits.AsSpan(t * vocab, vocab)).Sum(l => Math.Exp(2 * l));
        expected /= tokens;

        Assert.True(expected > 0.1, $"the model is nearly certain everywhere (1 − Σp² = {expected}): no test of the draws");
        Assert.True(Math.Abs(measured - expected) <= DrawTolerance, $"F·vocab {measured:F4}, E[1 − Σp²] {expected:F4}");
    }

    [Fact]
    public void The_same_text_gives_the_same_figures_and_every_matrix_has_one()
    {
        using var checkpoint = ModelCheckpoint.Open(TestModels.Stories260KBin);
        var set = CalibrationSet.Create(new CalibrationText(TestModels.TinyStoriesPrefix(20_000), "tinystories prefix"),
            ModelTokenizer.Load(TestModels.Tok512Model), samples: 2, sequenceLength: 32);
        var first = OutputFisher.Measure(checkpoint, set, threads: 2);
        var second = OutputFisher.Measure(checkpoint, set, threads: 1);
        Assert.Equal(5 * 7 + 1, first.Count);
        Assert.Contains(TensorNames.Output, first.Keys);
        Assert.All(first, f => Assert.True(f.Value > 0 && double.IsFinite(f.Value), $"{f.Key}: {f.Value}"));
        Assert.Equal(first.OrderBy(f => f.Key), second.OrderBy(f => f.Key));
    }

    private static float[][] Logits(TrainableModel model, CalibrationSet set)
    {
        using var pool = new WorkerPool(2);
        var pass = new WindowPass(model, pool, set.SequenceLength);
        return [.. Enumerable.Range(0, set.Samples).Select(i => pass.Logits(set.Sequence(i)))];
    }

    private static double MeanKld(float[][] before, float[][] after, int vocab)
    {
        double sum = 0;
        long tokens = 0;
        for (int s = 0; s < before.Length; s++)
            for (int t = 0; t < before[s].Length / vocab; t++, tokens++)
            {
                var p = LogSoftmax(before[s].AsSpan(t * vocab, vocab));
                var q = LogSoftmax(after[s].AsSpan(t * vocab, vocab));
                for (int v = 0; v < vocab; v++) sum += Math.Exp(p[v]) * (p[v] - q[v]);
            }
        return sum / tokens;
    }

    private static double[] LogSoftmax(ReadOnlySpan<float> logits)
    {
        double max = double.NegativeInfinity, sum = 0;
        foreach (float z in logits) max = Math.Max(max, z);
        foreach (float z in logits) sum += Math.Exp(z - max);
        double lse = max + Math.Log(sum);
        var result = new double[logits.Length];
        for (int v = 0; v < logits.Length; v++) result[v] = logits[v] - lse;
        return result;
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
