using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Inference;
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

    [Fact]
    public void Step_zero_logits_of_compressed_stories260K_equal_its_forward_pass()
    {
        using var file = CaldFile.Open(CompressedStories.Path);
        AssertBaseLogits(file.Content, [1, 403, 407, 261, 378, 429, 395, 260, 443, 300, 1, 17, 42]);
    }

    [Fact]
    public void One_and_two_threads_give_bit_identical_gradients()
    {
        using var file = CaldFile.Open(CompressedStories.Path);
        var tokens = Enumerable.Range(0, 65).Select(i => (i * 37 + 11) % 512).ToArray();
        byte[] Gradients(int threads)
        {
            var model = TrainableModel.Peel(file.Content, rank: 8);
            using var pool = new WorkerPool(threads);
            new WindowPass(model, pool, 64).Accumulate(tokens.AsSpan(0, 64), tokens.AsSpan(1, 64), 1f / 64);
            return model.Trained.SelectMany(l => l.LTransposedGradient.Concat(l.RGradient)).SelectMany(BitConverter.GetBytes).ToArray();
        }
        var one = Gradients(1);
        Assert.Contains(one, b => b != 0);
        Assert.Equal(one, Gradients(2));
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

    private static void AssertBaseLogits(CompressedModelContent content, int[] tokens)
    {
        using var weights = new CompressedModelWeights(content);
        using var transformer = new Transformer(content.Config, binding => weights.Bind(binding), new TransformerOptions { Threads = 2 });
        var expected = new float[tokens.Length * content.Config.VocabSize];
        transformer.Prefill(tokens, 0, expected);
        using var pool = new WorkerPool(2);
        var actual = new WindowPass(TrainableModel.Peel(content, rank: 2), pool, tokens.Length).Logits(tokens);
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
