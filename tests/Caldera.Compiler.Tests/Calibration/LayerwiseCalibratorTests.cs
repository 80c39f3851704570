using Caldera.Compiler.Calibration;
using Caldera.Compiler.LinearAlgebra;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tokenization;

namespace Caldera.Compiler.Tests.Calibration;

public class LayerwiseCalibratorTests
{
    /// <summary>
    /// Both paths run the same kernels on the same batches, so the activations are bit-identical and the fp64
    /// sums differ at most by summation order inside the DGEMM: far below 1e-12 relative.
    /// </summary>
    private const double SamePathTolerance = 1e-12;

    /// <summary>
    /// The runtime computes in fp32 (and its exp/rsqrt approximations); the direct reference in fp64. Errors of a
    /// few fp32 ulps per activation give ~1e-6 relative on the second moments; 1e-4 leaves margin.
    /// </summary>
    private const double DirectTolerance = 1e-4;

    private static CalibrationSet Sequences(int samples, int length)
    {
        var tokenizer = ModelTokenizer.Load(TestModels.Tok512Model);
        return CalibrationSet.Create(new CalibrationText(TestModels.TinyStoriesPrefix(20_000), "tinystories prefix"), tokenizer, samples, length);
    }

    [Fact]
    public void Layerwise_hessians_equal_hooks_on_a_full_forward_pass()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        var c = model.Config;
        // 80 tokens with the default prefill batch of 64: the second batch attends to the first through the cache.
        var set = Sequences(samples: 3, length: 80);

        var hooked = new LayerHessians[c.LayerCount];
        for (int l = 0; l < c.LayerCount; l++) hooked[l] = new LayerHessians(c, l);
        using (var transformer = new Transformer(model, new TransformerOptions { Threads = 1, ContextLength = set.SequenceLength }))
        {
            var all = new AllLayers(hooked);
            for (int i = 0; i < set.Samples; i++) transformer.Prefill(set.Sequence(i), 0, all);
        }

        using var calibrator = new LayerwiseCalibrator(model, set, threads: 1);
        for (int l = 0; l < c.LayerCount; l++)
        {
            var layerwise = calibrator.Advance(captureHessians: true)!;
            foreach (var input in Enum.GetValues<LinearInput>())
            {
                Assert.Equal(set.Tokens.Length, layerwise[input].Count);
                AssertClose(hooked[l][input].SecondMoment(), layerwise[input].SecondMoment(), SamePathTolerance, $"layer {l} {input}");
            }
        }
        Assert.Throws<InvalidOperationException>(() => calibrator.Advance(captureHessians: false));
    }

    [Fact]
    public void First_layer_hessians_match_a_direct_fp64_computation()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        var set = Sequences(samples: 2, length: 12);
        using var calibrator = new LayerwiseCalibrator(model, set, threads: 2);
        var layerwise = calibrator.Advance(captureHessians: true)!;

        var direct = DirectFirstLayer.Hessians(model, set);
        foreach (var input in Enum.GetValues<LinearInput>())
            AssertClose(direct[(int)input], layerwise[input].SecondMoment(), DirectTolerance, input.ToString());
    }

    [Fact]
    public void Skipping_capture_moves_the_stream_the_same_way()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        var set = Sequences(samples: 2, length: 16);
        using var captured = new LayerwiseCalibrator(model, set, threads: 1);
        using var skipped = new LayerwiseCalibrator(model, set, threads: 1);
        captured.Advance(captureHessians: true);
        Assert.Null(skipped.Advance(captureHessians: false));
        AssertClose(captured.Advance(captureHessians: true)![LinearInput.Down].SecondMoment(),
            skipped.Advance(captureHessians: true)![LinearInput.Down].SecondMoment(), 0, "layer 1 down");
    }

    [Fact]
    public void Calibration_sequences_are_bos_led_consecutive_windows()
    {
        var tokenizer = ModelTokenizer.Load(TestModels.Tok512Model);
        var text = new CalibrationText(TestModels.TinyStoriesPrefix(5_000), "prefix");
        var stream = tokenizer.Encode(text.Text, addBos: false);
        var set = CalibrationSet.Create(text, tokenizer, samples: 4, sequenceLength: 33);
        Assert.Equal(4 * 33, set.Tokens.Length);
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(tokenizer.BosId, set.Sequence(i)[0]);
            Assert.Equal(stream.AsSpan(i * 32, 32).ToArray(), set.Sequence(i)[1..].ToArray());
        }
        Assert.Equal(Math.Min(stream.Length / 32, CalibrationSet.DefaultMaxSamples), CalibrationSet.Create(text, tokenizer, null, 33).Samples);

        var error = Assert.Throws<ModelFormatException>(() => CalibrationSet.Create(text, tokenizer, samples: 10_000, sequenceLength: 33));
        Assert.Contains("--samples", error.Message);
    }

    [Fact]
    public void Built_in_calibration_text_is_enough_for_the_defaults()
    {
        var tokenizer = ModelTokenizer.Load(TestModels.Tok512Model);
        var set = CalibrationSet.Create(CalibrationText.BuiltIn(), tokenizer, samples: null, sequenceLength: 128);
        Assert.True(set.Samples >= 8, $"only {set.Samples} sequences of 128 tokens");
        Assert.Equal("built-in", set.Description);
    }

    private static void AssertClose(Matrix<double> expected, Matrix<double> actual, double tolerance, string what)
    {
        double scale = 0, worst = 0;
        for (int i = 0; i < expected.Data.Length; i++) scale = Math.Max(scale, Math.Abs(expected.Data[i]));
        for (int i = 0; i < expected.Data.Length; i++) worst = Math.Max(worst, Math.Abs(expected.Data[i] - actual.Data[i]));
        Assert.True(scale > 0, $"{what}: the Hessian is zero");
        Assert.True(worst <= tolerance * scale, $"{what}: max |ΔH| = {worst:E3}, {worst / scale:E3} of max |H|");
    }

    /// <summary>Hooks every block of a whole-model forward pass.</summary>
    private sealed class AllLayers(LayerHessians[] layers) : IActivationObserver
    {
        public void Observe(int layer, LinearInput input, ReadOnlySpan<float> x, int tokens) => layers[layer].Observe(layer, input, x, tokens);
    }
}
