using Caldera.Runtime.Formats;
using Caldera.Runtime.Training.Adapters;
using Caldera.Runtime.Training.FineTuning;

namespace Caldera.Runtime.Tests.Training;

/// <summary>The fine-tuning loop on compressed stories260K: it learns, it is deterministic, and it refuses bad input clearly.</summary>
public class FineTunerTests
{
    private static int[] Tokens(int count, int seed = 0) => Enumerable.Range(0, count).Select(i => (i * 37 + 11 + seed * 101) % 512).ToArray();

    private static LowRankAdapter Train(int[] tokens, FineTuneSettings settings)
    {
        using var file = CaldFile.Open(CompressedStories.Path);
        return new FineTuner(file.Content, file.Checksum, "stories260K-r16.cald", settings).Run(tokens);
    }

    /// <summary>The first <paramref name="count"/> tokens of the TinyStories validation text, as the model's own tokenizer reads it.</summary>
    private static int[] Story(int count)
    {
        var tokens = Caldera.Runtime.Tokenization.ModelTokenizer.Load(TestModels.Tok512Model).Encode(TestModels.TinyStoriesPrefix(20 * count));
        return tokens[..count];
    }

    [Fact]
    public void Overfitting_one_window_drives_its_loss_below_a_tenth_of_the_start()
    {
        var tokens = Story(33);
        var adapter = Train(tokens, new FineTuneSettings { Rank = 16, SequenceLength = 32, Steps = 80, LearningRate = 1e-2, Threads = 2 });
        var losses = adapter.Training.Losses;
        Assert.Equal(80, losses.Count);
        Assert.True(losses[^1] < 0.1 * losses[0], $"loss went from {losses[0]:F3} to {losses[^1]:F3}");
    }

    [Fact]
    public void Distilling_toward_the_source_checkpoint_lowers_the_held_out_soft_target_loss()
    {
        using var checkpoint = Caldera.Runtime.Model.ModelCheckpoint.Open(TestModels.Stories260KBin);
        using var teacherTransformer = new Caldera.Runtime.Inference.Transformer(checkpoint, new Caldera.Runtime.Inference.TransformerOptions { Threads = 2, ContextLength = 32 });
        using var file = CaldFile.Open(CompressedStories.Path);
        var adapter = new FineTuner(file.Content, file.Checksum, "stories260K-r16.cald",
                new FineTuneSettings { Rank = 8, SequenceLength = 32, Steps = 30, LearningRate = 3e-3, ValidationFraction = 0.25, ValidationInterval = 30, Threads = 2 })
            .Run(Story(400), new TransformerTeacher(teacherTransformer));
        Assert.Equal("distillation", adapter.Training.Objective);
        var validation = adapter.Training.ValidationLosses;
        Assert.Equal([0, 30], validation.Select(v => v.Step));
        Assert.True(validation[1].Loss < validation[0].Loss, $"held-out soft-target loss {validation[0].Loss:F4} → {validation[1].Loss:F4}");
    }

    [Fact]
    public void The_adapter_keeps_the_factors_of_the_best_validation_step()
    {
        // A learning rate that overfits the training windows, so held-out loss turns up again before the end.
        var tokens = Story(400);
        var settings = new FineTuneSettings { Rank = 16, SequenceLength = 32, Steps = 24, LearningRate = 3e-2, ValidationFraction = 0.3, ValidationInterval = 4, Threads = 2 };
        var adapter = Train(tokens, settings);
        var validation = adapter.Training.ValidationLosses;
        Assert.Equal(7, validation.Count);
        var best = validation.MinBy(v => v.Loss);
        Assert.Equal(best.Step, adapter.Training.KeptStep);
        // The kept factors are that step's: they give its held-out loss again (windows 9..11 of 12 are held out).
        using var file = CaldFile.Open(CompressedStories.Path);
        var model = Caldera.Runtime.Training.Model.TrainableModel.Peel(file.Content, 16);
        adapter.ApplyTo(model);
        using var pool = new Caldera.Runtime.Inference.WorkerPool(1);
        var pass = new Caldera.Runtime.Training.Model.WindowPass(model, pool, 32);
        double sum = 0;
        for (int w = 9; w < 12; w++) sum += pass.Loss(tokens.AsSpan(w * 32, 32), tokens.AsSpan(w * 32 + 1, 32));
        Assert.Equal(best.Loss, sum / (3 * 32), 1e-12);
    }

    [Theory]
    [InlineData(0, "the text is empty")]
    [InlineData(20, "fewer than one window of 33")]
    public void Too_little_text_is_a_clear_error(int count, string message)
    {
        var e = Assert.Throws<FineTuningException>(() => Train(Tokens(count), new FineTuneSettings { SequenceLength = 32 }));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void An_exploding_learning_rate_stops_with_a_clear_error()
    {
        var e = Assert.Throws<FineTuningException>(() =>
            Train(Tokens(100), new FineTuneSettings { SequenceLength = 32, Steps = 5, LearningRate = 1e30, WarmupFraction = 0 }));
        Assert.Contains("diverged; lower the learning rate", e.Message);
    }
}
