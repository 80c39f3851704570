using Caldera.Runtime.Tests.Hosting;

namespace Caldera.Runtime.Tests.Training;

/// <summary>The app's view: CalderaModel.FineTuneAsync on the user's texts, then the model loaded with the adapter.</summary>
public class FineTuneApiTests
{
    private static CalderaModelOptions FromFile => new() { ModelPath = CompressedStories.Path, Threads = 2, Int8Arithmetic = false };

    [Fact]
    public async Task An_app_fine_tunes_its_model_on_a_text_and_generates_with_the_adapter()
    {
        using var dir = new TempDirectory();
        string adapter = dir.File("user.calda");
        var description = TestModel.Describe(CompressedStories.Path);
        var reports = new List<FineTuneProgress>();
        string story = TestModels.TinyStoriesPrefix(600);
        using (var model = TestModel.Load(description, FromFile))
        {
            // Overfit one short text, so the adapted model's greedy continuation of its start must differ from the base's.
            await model.FineTuneAsync([story], adapter, new FineTuneOptions { Rank = 8, Steps = 40, SequenceLength = 64, LearningRate = 1e-2 },
                new SynchronousProgress(reports.Add));
        }
        Assert.True(File.Exists(adapter));
        Assert.Equal(40, reports.Count);
        Assert.True(reports[^1].Loss < 0.5 * reports[0].Loss, $"loss {reports[0].Loss:F3} → {reports[^1].Loss:F3}");

        var greedy = new GenerationOptions { MaxOutputTokens = 24, Sampling = new SamplingOptions { Temperature = 0 } };
        using var plain = TestModel.Load(description, FromFile);
        using var adapted = TestModel.Load(description, FromFile with { AdapterPath = adapter });
        string prompt = story[..40];
        Assert.NotEqual(string.Concat(plain.Generate(prompt, greedy)), string.Concat(adapted.Generate(prompt, greedy)));
    }

    [Fact]
    public async Task With_TrainNorms_the_adapter_holds_the_gains_and_loading_it_applies_them()
    {
        using var dir = new TempDirectory();
        string adapter = dir.File("norms.calda"), withoutGains = dir.File("ranks-only.calda");
        var description = TestModel.Describe(CompressedStories.Path);
        using (var model = TestModel.Load(description, FromFile))
            await model.FineTuneAsync([TestModels.TinyStoriesPrefix(600)], adapter,
                new FineTuneOptions { Rank = 4, Steps = 10, SequenceLength = 64, LearningRate = 1e-2, TrainNorms = true });
        var read = Caldera.Runtime.Training.Adapters.AdapterFile.Read(adapter);
        Assert.Equal(11, read.Gains.Count);
        Caldera.Runtime.Training.Adapters.AdapterFile.Write(withoutGains, read with { Gains = [] });

        int[] tokens = [1, 403, 407, 261, 378, 429, 395, 260];
        float[] Logits(string path)
        {
            using var model = TestModel.Load(description, FromFile with { AdapterPath = path });
            using var transformer = model.CreateTransformer();
            var logits = new float[tokens.Length * model.Config.VocabSize];
            transformer.Prefill(tokens, 0, logits);
            return logits;
        }
        // The same ranks; only the gains differ, so different logits mean the loaded gains run.
        Assert.NotEqual(Logits(withoutGains), Logits(adapter));
    }

    [Fact]
    public async Task Too_little_text_is_a_FineTuningException_and_writes_nothing()
    {
        using var dir = new TempDirectory();
        using var model = TestModel.Load(TestModel.Describe(CompressedStories.Path), FromFile);
        var e = await Assert.ThrowsAsync<FineTuningException>(() => model.FineTuneAsync(["Once upon"], dir.File("a.calda")));
        Assert.Contains("fewer than one window", e.Message);
        Assert.Contains("FineTuneOptions.SequenceLength", e.Message);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    private sealed class SynchronousProgress(Action<FineTuneProgress> report) : IProgress<FineTuneProgress>
    {
        public void Report(FineTuneProgress value) => report(value);
    }
}
