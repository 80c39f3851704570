using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;
using Caldera.Runtime.Training.Model;
using Caldera.Runtime.Training.Reference;

namespace Caldera.Runtime.Tests.Training;

/// <summary>The fp32 training pass against the float64 reference, the base model's forward pass, and itself at other thread counts.</summary>
public class FloatPathTests
{
    /// <summary>
    /// ‖g₃₂ − g₆₄‖/‖g₆₄‖ per matrix: fp32 rounding through two blocks and the softmaxes leaves ~1e-6; a wrong term
    /// is of the order of the gradient itself.
    /// </summary>
    private const double GradientTolerance = 1e-4;

    /// <summary>
    /// Logits of the peeled model against the base forward, relative to the largest logit: the same arithmetic in another
    /// order (Q·u and L·(R·u) summed separately, fixed-order dots) differs by float rounding, ~1e-6.
    /// </summary>
    private const double LogitTolerance = 1e-4;

    [Theory]
    [MemberData(nameof(Variants))]
    public void Float_gradients_agree_with_the_float64_reference(string variant)
    {
        var model = TrainableModel.Peel(TrainingModels.Variant(variant), rank: 2);
        var reference = new ReferenceModel(model);
        double expectedLoss = reference.Gradients(TrainingModels.Window, TrainingModels.Targets);
        using var pool = new WorkerPool(2);
        double loss = new WindowPass(model, pool, 16).Accumulate(TrainingModels.Window, TrainingModels.Targets, 1f);
        Assert.Equal(expectedLoss, loss, expectedLoss * 1e-5);
        var trained = model.Trained;
        var references = reference.Trained;
        Assert.Equal(trained.Count, references.Count);
        Assert.NotEmpty(trained);
        for (int i = 0; i < trained.Count; i++)
        {
            AssertClose(references[i].LTransposedGradient, trained[i].LTransposedGradient, $"{trained[i].Name} Lᵀ");
            AssertClose(references[i].RGradient, trained[i].RGradient, $"{trained[i].Name} R");
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Float_norm_gain_gradients_agree_with_the_float64_reference(string variant)
    {
        var model = TrainableModel.Peel(TrainingModels.Variant(variant), rank: 2, trainNorms: true);
        var reference = new ReferenceModel(model);
        reference.Gradients(TrainingModels.Window, TrainingModels.Targets);
        using var pool = new WorkerPool(2);
        new WindowPass(model, pool, 16).Accumulate(TrainingModels.Window, TrainingModels.Targets, 1f);
        var gains = model.TrainedGains;
        Assert.Equal(2 * model.Config.LayerCount + 1, gains.Count);
        Assert.Equal(reference.Gains.Select(g => g.Name), gains.Select(g => g.Name));
        for (int i = 0; i < gains.Count; i++) AssertClose(reference.Gains[i].Gradient, gains[i].Gradient, gains[i].Name);
        // The factors' gradients are those of a run without the gains (the gains' backward adds to nothing else).
        var plain = TrainableModel.Peel(TrainingModels.Variant(variant), rank: 2);
        new WindowPass(plain, pool, 16).Accumulate(TrainingModels.Window, TrainingModels.Targets, 1f);
        Assert.Empty(plain.TrainedGains);
        Assert.Equal(plain.Trained.SelectMany(l => l.LTransposedGradient.Concat(l.RGradient)), model.Trained.SelectMany(l => l.LTransposedGradient.Concat(l.RGradient)));
    }

    /// <summary>
    /// Σ_t ‖dy_t‖² per matrix, fp32 against float64: a sum of squares of gradients that agree to ~1e-6 relative (see
    /// <see cref="GradientTolerance"/>), so it agrees about as well; a dy of the wrong matrix or token is off by its whole size.
    /// </summary>
    private const double EnergyTolerance = 1e-4;

    [Theory]
    [MemberData(nameof(Variants))]
    public void Every_matrix_output_gradient_energy_agrees_with_the_float64_reference(string variant)
    {
        var model = TrainableModel.Peel(TrainingModels.Variant(variant), rank: 2);
        var reference = new ReferenceModel(model);
        reference.Gradients(TrainingModels.Window, TrainingModels.Targets);
        using var pool = new WorkerPool(2);
        new WindowPass(model, pool, 16).Accumulate(TrainingModels.Window, TrainingModels.Targets, 1f);
        var linears = model.Linears.ToArray();
        var references = reference.Linears;
        Assert.Equal(references.Count, linears.Length);
        for (int i = 0; i < linears.Length; i++)
        {
            double expected = references[i].OutputGradientSquares;
            Assert.True(expected > 0, $"{linears[i].Name}: no output gradient");
            Assert.True(Math.Abs(linears[i].OutputGradientSquares - expected) <= EnergyTolerance * expected,
                $"{linears[i].Name}: Σ‖dy‖² {linears[i].OutputGradientSquares:R}, reference {expected:R}");
        }
        // Each backward adds to the sum; clearing the gradients clears it.
        model.Linears.First().ClearGradients();
        Assert.Equal(0, model.Linears.First().OutputGradientSquares);
    }

    [Theory]
    [InlineData("stories260K")]
    [InlineData("tiny-random")]
    public void A_checkpoint_read_in_place_gives_the_logits_and_output_gradients_of_its_fp32_copy(string name)
    {
        // stories260K stores F32 (read as it lies), the tiny random GGUF F16 (converted segment by segment).
        using var checkpoint = ModelCheckpoint.Open(name == "stories260K" ? TestModels.Stories260KBin : TestModels.TinyRandomGguf);
        var inPlace = TrainableModel.Dense(checkpoint);
        // The widened copy, with zero factors beside each matrix: they add exact zeros.
        var copy = TrainableModel.WithFactors(checkpoint, rank: 1, (_, rows, columns) => (new float[rows], new float[columns]));
        using var pool = new WorkerPool(2);
        int tokens = TrainingModels.Window.Length;
        Assert.Equal(new WindowPass(copy, pool, tokens).Logits(TrainingModels.Window), new WindowPass(inPlace, pool, tokens).Logits(TrainingModels.Window));
        new WindowPass(copy, pool, tokens).Accumulate(TrainingModels.Window, TrainingModels.Targets, 1f);
        new WindowPass(inPlace, pool, tokens).Accumulate(TrainingModels.Window, TrainingModels.Targets, 1f);
        Assert.Equal(copy.Linears.Select(l => l.OutputGradientSquares), inPlace.Linears.Select(l => l.OutputGradientSquares));
        Assert.All(inPlace.Linears, l => Assert.True(l.OutputGradientSquares > 0, l.Name));
    }

    [Fact]
    public void Float_distillation_gradients_agree_with_the_float64_reference()
    {
        var model = TrainableModel.Peel(TrainingModels.Variant("rotate-half-tied"), rank: 2);
        var reference = new ReferenceModel(model);
        var random = new Random(5);
        var teacher = new float[TrainingModels.Window.Length * model.Config.VocabSize];
        for (int i = 0; i < teacher.Length; i++) teacher[i] = (float)(random.NextDouble() * 4 - 2);
        double expectedLoss = reference.Gradients(TrainingModels.Window, teacher);
        using var pool = new WorkerPool(2);
        var targets = new Caldera.Runtime.Training.Objectives.SoftTargets(teacher, TrainingModels.Window.Length, model.Config.VocabSize);
        double loss = new WindowPass(model, pool, 16).Accumulate(TrainingModels.Window, targets, 1f);
        Assert.Equal(expectedLoss, loss, expectedLoss * 1e-5);
        var references = reference.Trained;
        for (int i = 0; i < references.Count; i++)
        {
            AssertClose(references[i].LTransposedGradient, model.Trained[i].LTransposedGradient, $"{model.Trained[i].Name} Lᵀ");
            AssertClose(references[i].RGradient, model.Trained[i].RGradient, $"{model.Trained[i].Name} R");
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Step_zero_logits_equal_the_base_models_forward_pass(string variant)
    {
        var content = TrainingModels.Variant(variant);
        AssertBaseLogits(content, TrainingModels.Window);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Step_zero_logits_of_compressed_stories260K_equal_its_forward_pass(bool trainNorms)
    {
        using var file = CaldFile.Open(CompressedStories.Path);
        AssertBaseLogits(file.Content, [1, 403, 407, 261, 378, 429, 395, 260, 443, 300, 1, 17, 42], trainNorms);
    }

    [Fact]
    public void One_and_two_threads_give_bit_identical_gradients()
    {
        using var file = CaldFile.Open(CompressedStories.Path);
        var tokens = Enumerable.Range(0, 65).Select(i => (i * 37 + 11) % 512).ToArray();
        (byte[] Factors, byte[] Gains) Gradients(int threads)
        {
            var model = TrainableModel.Peel(file.Content, rank: 8, trainNorms: true);
            using var pool = new WorkerPool(threads);
            new WindowPass(model, pool, 64).Accumulate(tokens.AsSpan(0, 64), tokens.AsSpan(1, 64), 1f / 64);
            return (model.Trained.SelectMany(l => l.LTransposedGradient.Concat(l.RGradient)).SelectMany(BitConverter.GetBytes).ToArray(),
                model.TrainedGains.SelectMany(g => g.Gradient).SelectMany(BitConverter.GetBytes).ToArray());
        }
        var one = Gradients(1);
        Assert.Contains(one.Factors, b => b != 0);
        Assert.Contains(one.Gains, b => b != 0);
        var two = Gradients(2);
        Assert.Equal(one.Factors, two.Factors);
        Assert.Equal(one.Gains, two.Gains);
    }

    [Fact]
    public void Checkpointed_blocks_give_the_gradients_of_kept_activations_bit_for_bit()
    {
        using var file = CaldFile.Open(CompressedStories.Path);
        var tokens = Enumerable.Range(0, 65).Select(i => (i * 37 + 11) % 512).ToArray();
        byte[] Gradients(long activationBudget, bool keeps)
        {
            var model = TrainableModel.Peel(file.Content, rank: 8);
            using var pool = new WorkerPool(2);
            var pass = new WindowPass(model, pool, 64, activationBudget);
            Assert.Equal(keeps, pass.KeepsActivations);
            pass.Accumulate(tokens.AsSpan(0, 64), tokens.AsSpan(1, 64), 1f / 64);
            return model.Trained.SelectMany(l => l.LTransposedGradient.Concat(l.RGradient)).SelectMany(BitConverter.GetBytes).ToArray();
        }
        var kept = Gradients(WindowPass.ActivationBudget, keeps: true);
        Assert.Contains(kept, b => b != 0);
        Assert.Equal(kept, Gradients(0, keeps: false));
    }

    private static void AssertBaseLogits(CompressedModelContent content, int[] tokens, bool trainNorms = false)
    {
        using var weights = new CompressedModelWeights(content);
        using var transformer = new Transformer(content.Config, binding => weights.Bind(binding), new TransformerOptions { Threads = 2 });
        var expected = new float[tokens.Length * content.Config.VocabSize];
        transformer.Prefill(tokens, 0, expected);
        using var pool = new WorkerPool(2);
        var actual = new WindowPass(TrainableModel.Peel(content, rank: 2, trainNorms: trainNorms), pool, tokens.Length).Logits(tokens);
        double scale = expected.Max(MathF.Abs);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= LogitTolerance * scale, $"logit {i}: base {expected[i]}, peeled {actual[i]}");
    }

    private static void AssertClose(double[] expected, float[] actual, string what)
    {
        double difference = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            difference += (expected[i] - actual[i]) * (expected[i] - actual[i]);
            norm += expected[i] * expected[i];
        }
        Assert.True(norm > 0, $"{what}: zero gradient");
        Assert.True(Math.Sqrt(difference / norm) <= GradientTolerance, $"{what}: relative error {Math.Sqrt(difference / norm):E2}");
    }

    public static TheoryData<string> Variants => TrainingModels.Variants;
}
