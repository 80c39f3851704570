using Caldera.Runtime.Formats;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Training.Adapters;
using Caldera.Runtime.Training.FineTuning;
using Caldera.Runtime.Training.Model;

namespace Caldera.Runtime.Tests.Training;

/// <summary>The adapter file: round trip (with and without norm gains), byte-identical training at any thread count, rejection of damage and of another base, and inference with an unmerged adapter.</summary>
public class AdapterFileTests
{
    /// <summary>Adapted inference against the training pass's logits, relative to the largest: float rounding in another order, ~1e-6.</summary>
    private const double LogitTolerance = 1e-4;

    private static readonly int[] Text = Enumerable.Range(0, 160).Select(i => (i * 37 + 11) % 512).ToArray();

    private static readonly FineTuneSettings Settings = new() { Rank = 4, SequenceLength = 24, Steps = 3, LearningRate = 3e-3, ValidationFraction = 0.2 };

    private static LowRankAdapter Train(FineTuneSettings settings)
    {
        using var file = CaldFile.Open(CompressedStories.Path);
        return new FineTuner(file.Content, file.Checksum, Path.GetFileName(file.Path), settings).Run(Text);
    }

    [Fact]
    public void An_adapter_reads_back_as_written()
    {
        using var dir = new TempDirectory();
        var adapter = Train(Settings);
        string path = dir.File("a.calda");
        AdapterFile.Write(path, adapter);
        var read = AdapterFile.Read(path);
        Assert.Equal(adapter.BaseChecksum, read.BaseChecksum);
        Assert.Equal(adapter.Rank, read.Rank);
        Assert.Equal(adapter.Matrices.Select(m => m.Name), read.Matrices.Select(m => m.Name));
        for (int i = 0; i < adapter.Matrices.Count; i++)
        {
            Assert.Equal(adapter.Matrices[i].LTransposed, read.Matrices[i].LTransposed);
            Assert.Equal(adapter.Matrices[i].R, read.Matrices[i].R);
        }
        Assert.Equal(adapter.Training.Losses, read.Training.Losses);
        Assert.Equal(adapter.Training.ValidationLosses, read.Training.ValidationLosses);
        Assert.Equal(adapter with { Matrices = read.Matrices, Training = read.Training, Gains = read.Gains }, read);
        Assert.Empty(read.Gains);
        Assert.Equal(adapter.Training with { Losses = read.Training.Losses, ValidationLosses = read.Training.ValidationLosses }, read.Training);
        Assert.Equal(160, read.Training.DataTokens);
        Assert.DoesNotContain(Directory.GetFiles(dir.Path), f => f.EndsWith(".tmp", StringComparison.Ordinal));
    }

    [Fact]
    public void An_adapter_with_norm_gains_reads_back_as_written_as_version_2_and_one_without_stays_version_1()
    {
        using var dir = new TempDirectory();
        var adapter = Train(Settings with { TrainNorms = true });
        using (var file = CaldFile.Open(CompressedStories.Path))
        {
            Assert.Equal(2 * file.Content.Config.LayerCount + 1, adapter.Gains.Count);
            // Training moved them off the base's values.
            var baseGains = TrainableModel.Peel(file.Content, 1).Gains.ToDictionary(g => g.Name, g => g.Values);
            Assert.Contains(adapter.Gains, g => !g.Values.SequenceEqual(baseGains[g.Name]));
        }
        string path = dir.File("gains.calda");
        AdapterFile.Write(path, adapter);
        var read = AdapterFile.Read(path);
        Assert.Equal(adapter.Gains.Select(g => g.Name), read.Gains.Select(g => g.Name));
        for (int i = 0; i < adapter.Gains.Count; i++) Assert.Equal(adapter.Gains[i].Values, read.Gains[i].Values);
        Assert.Equal(AdapterFile.VersionWithGains, BitConverter.ToUInt32(File.ReadAllBytes(path), 8));
        AdapterFile.Write(dir.File("plain.calda"), Train(Settings));
        Assert.Equal(AdapterFile.Version, BitConverter.ToUInt32(File.ReadAllBytes(dir.File("plain.calda")), 8));
        Assert.Empty(AdapterFile.Read(dir.File("plain.calda")).Gains);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void One_and_two_threads_write_byte_identical_adapters(bool trainNorms)
    {
        using var dir = new TempDirectory();
        AdapterFile.Write(dir.File("1.calda"), Train(Settings with { Threads = 1, Accumulation = 2, TrainNorms = trainNorms }));
        AdapterFile.Write(dir.File("2.calda"), Train(Settings with { Threads = 2, Accumulation = 2, TrainNorms = trainNorms }));
        Assert.Equal(File.ReadAllBytes(dir.File("1.calda")), File.ReadAllBytes(dir.File("2.calda")));
    }

    [Fact]
    public void An_adapter_whose_gain_length_does_not_fit_the_model_is_a_clear_error_naming_the_file()
    {
        using var dir = new TempDirectory();
        var adapter = Train(Settings with { Steps = 1, TrainNorms = true });
        var gains = adapter.Gains.ToArray();
        gains[1] = gains[1] with { Values = [.. gains[1].Values, 1f] };
        string path = dir.File("wide.calda");
        AdapterFile.Write(path, adapter with { Gains = gains });
        var read = AdapterFile.Read(path);
        using var file = CaldFile.Open(CompressedStories.Path);
        var e = Assert.Throws<ModelFormatException>(() => AdapterFile.CheckGains(path, read, file.Content.Config));
        Assert.Contains(path, e.Message);
        Assert.Contains($"{gains[1].Name} has {file.Content.Config.Dim + 1} values, the model's width is {file.Content.Config.Dim}", e.Message);
        Assert.Throws<ArgumentException>(() => AdaptedLinear.Binder(b => throw new InvalidOperationException(), file.Content, read));
        Assert.Throws<ArgumentException>(() => Caldera.Compiler.Adapters.AdapterMerge.Merge(file.Content, read));
        var model = TrainableModel.Peel(file.Content, adapter.Rank, trainNorms: true);
        Assert.Throws<ArgumentException>(() => read.ApplyTo(model));
    }

    [Fact]
    public void A_merged_model_is_nearer_the_adapted_one_than_the_base_is()
    {
        var adapter = Train(Settings with { Steps = 6, LearningRate = 3e-2 });
        using var file = CaldFile.Open(CompressedStories.Path);
        int[] tokens = [1, 403, 407, 261, 378, 429, 395, 260, 443, 300];
        float[] Logits(Caldera.Runtime.Compression.CompressedModelContent content, LowRankAdapter? over)
        {
            using var weights = new CompressedModelWeights(content);
            Func<LinearBinding, TransformerWeights> bind = b => weights.Bind(b);
            using var transformer = new Transformer(content.Config, over is null ? bind : AdaptedLinear.Binder(bind, content, over));
            var logits = new float[tokens.Length * content.Config.VocabSize];
            transformer.Prefill(tokens, 0, logits);
            return logits;
        }
        var adapted = Logits(file.Content, adapter);
        var merged = Logits(Caldera.Compiler.Adapters.AdapterMerge.Merge(file.Content, adapter), null);
        var baseLogits = Logits(file.Content, null);
        double Distance(float[] a) => Math.Sqrt(a.Zip(adapted, (x, y) => (double)(x - y) * (x - y)).Sum());
        Assert.True(Distance(merged) < 0.5 * Distance(baseLogits), $"merged is {Distance(merged):G3} from the adapted logits, the base {Distance(baseLogits):G3}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_run_stopped_and_resumed_from_its_checkpoint_writes_the_adapter_of_an_uninterrupted_run(bool trainNorms)
    {
        using var dir = new TempDirectory();
        var settings = Settings with { Steps = 6, Accumulation = 2, Threads = 2, TrainNorms = trainNorms };
        using var file = CaldFile.Open(CompressedStories.Path);
        var tuner = new FineTuner(file.Content, file.Checksum, "stories260K-r16.cald", settings);
        AdapterFile.Write(dir.File("whole.calda"), tuner.Run(Text, checkpointPath: dir.File("whole.checkpoint")));

        string checkpoint = dir.File("stopped.checkpoint");
        using var stop = new CancellationTokenSource();
        var stopAfterThree = new Progress(p => { if (p.Step == 3) stop.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => tuner.Run(Text, null, stopAfterThree, stop.Token, checkpoint));
        Assert.True(File.Exists(checkpoint));
        var resumed = new FineTuner(file.Content, file.Checksum, "stories260K-r16.cald", settings with { Threads = 1 })
            .Run(Text, checkpointPath: checkpoint, resume: true);
        AdapterFile.Write(dir.File("resumed.calda"), resumed);
        Assert.Equal(File.ReadAllBytes(dir.File("whole.calda")), File.ReadAllBytes(dir.File("resumed.calda")));

        var other = new FineTuner(file.Content, file.Checksum, "stories260K-r16.cald", settings with { LearningRate = 1e-3 });
        var e = Assert.Throws<FineTuningException>(() => other.Run(Text, checkpointPath: checkpoint, resume: true));
        Assert.Contains("another run", e.Message);
    }

    /// <summary>Reports synchronously, so the test stops the run at an exact step.</summary>
    private sealed class Progress(Action<FineTuneProgress> report) : IProgress<FineTuneProgress>
    {
        public void Report(FineTuneProgress value) => report(value);
    }

    [Theory]
    [InlineData("truncated", "truncated")]
    [InlineData("tampered", "checksum mismatch")]
    [InlineData("not an adapter", "not a caldera adapter")]
    public void A_damaged_adapter_is_a_clear_error_naming_the_file(string damage, string message)
    {
        using var dir = new TempDirectory();
        string path = dir.File("a.calda");
        AdapterFile.Write(path, Train(Settings with { Steps = 1 }));
        var bytes = File.ReadAllBytes(path);
        bytes = damage switch
        {
            "truncated" => bytes[..(bytes.Length - 100)],
            "tampered" => Flip(bytes, bytes.Length - 7),
            _ => Flip(bytes, 2),
        };
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<ModelFormatException>(() => AdapterFile.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(message, e.Message);

        static byte[] Flip(byte[] b, int i)
        {
            b[i] ^= 0x10;
            return b;
        }
    }

    [Fact]
    public void An_adapter_for_another_base_is_a_clear_error()
    {
        var adapter = Train(Settings with { Steps = 1 });
        var e = Assert.Throws<ModelFormatException>(() => AdapterFile.CheckBase("a.calda", adapter, adapter.BaseChecksum ^ 1, "other.cald"));
        Assert.Contains("a.calda", e.Message);
        Assert.Contains("not on other.cald", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_unmerged_adapter_on_the_compressed_forward_pass_gives_the_trained_models_logits(bool trainNorms)
    {
        var adapter = Train(Settings with { Steps = 4, LearningRate = 3e-2, TrainNorms = trainNorms });
        Assert.Equal(trainNorms, adapter.Gains.Count > 0);
        using var file = CaldFile.Open(CompressedStories.Path);
        int[] tokens = [1, 403, 407, 261, 378, 429, 395, 260, 443];
        var model = TrainableModel.Peel(file.Content, adapter.Rank, trainNorms: trainNorms);
        adapter.ApplyTo(model);
        using var pool = new WorkerPool(1);
        var trained = new WindowPass(model, pool, tokens.Length).Logits(tokens);

        using var weights = new CompressedModelWeights(file.Content);
        using var transformer = new Transformer(file.Content.Config, AdaptedLinear.Binder(b => weights.Bind(b), file.Content, adapter),
            new TransformerOptions { Threads = 2 });
        var adapted = new float[trained.Length];
        transformer.Prefill(tokens, 0, adapted);
        var baseLogits = new float[trained.Length];
        using (var plain = new Transformer(file.Content.Config, b => weights.Bind(b))) plain.Prefill(tokens, 0, baseLogits);

        double scale = trained.Max(MathF.Abs), moved = 0;
        for (int i = 0; i < trained.Length; i++)
        {
            Assert.True(Math.Abs(trained[i] - adapted[i]) <= LogitTolerance * scale, $"logit {i}: trained {trained[i]}, adapted {adapted[i]}");
            moved = Math.Max(moved, Math.Abs(trained[i] - baseLogits[i]));
        }
        Assert.True(moved > 100 * LogitTolerance * scale, $"training moved the logits by only {moved}");
        // Decode (one token) runs the same adapted matrices.
        var last = transformer.Decode(tokens[^1], tokens.Length).ToArray();
        Assert.All(last, v => Assert.True(float.IsFinite(v)));
    }
}
