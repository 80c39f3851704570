using Caldera.Runtime.Training.Adapters;

namespace Caldera.Cli.Tests;

/// <summary>`caldera finetune`, `adapter inspect`, and `run`/`eval --adapter` end to end on compressed stories260K.</summary>
public sealed class FineTuneCommandTests
{
    private static (int Code, string Out, string Error) Run(string[] args, CancellationToken cancellation = default)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        int code = CalderaCli.Run(args, stdout, stderr, CompressedModelFormat.Cald, cancellation);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static string Text(TempDirectory dir, int characters)
    {
        string path = dir.File($"text-{characters}.txt");
        File.WriteAllText(path, TestModels.TinyStoriesPrefix(characters));
        return path;
    }

    [Fact]
    public void Finetune_writes_an_adapter_that_inspect_describes_and_run_and_eval_use()
    {
        using var dir = new TempDirectory();
        string text = Text(dir, 6000), adapter = dir.File("stories.calda");
        // A rate at which the ranks move by more than the 4-bit grid's step, and the last step kept (at this rate a held-out
        // share keeps step 0), so that the merged file below is another model.
        var (code, stdout, stderr) = Run(["finetune", CompressedStories.Path, "--text", text, "-o", adapter, "--rank", "4", "--steps", "4",
            "--seq-len", "32", "--lr", "0.03", "--threads", "2"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("wrote", stdout);
        Assert.Contains("step 4/4", stderr);
        Assert.Contains("tok/s", stderr);

        (code, stdout, stderr) = Run(["adapter", "inspect", adapter, "--model", CompressedStories.Path]);
        Assert.True(code == 0, stderr);
        Assert.Contains("stories260K-r16.cald", stdout);
        Assert.Contains("next-token", stdout);
        Assert.Contains("× rank 4", stdout);
        Assert.DoesNotContain(File.ReadAllText(text)[..40], File.ReadAllText(adapter));

        (code, stdout, stderr) = Run(["run", CompressedStories.Path, "--adapter", adapter, "--prompt", "Once upon a time", "--steps", "24", "--temperature", "0"]);
        Assert.True(code == 0, stderr);
        Assert.StartsWith("Once upon a time", stdout);

        (code, stdout, stderr) = Run(["eval", CompressedStories.Path, "--adapter", adapter, "--text", text, "--ctx", "64", "--threads", "2"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("perplexity", stdout);

        string merged = dir.File("merged.cald");
        (code, stdout, stderr) = Run(["adapter", "merge", CompressedStories.Path, adapter, "-o", merged]);
        Assert.True(code == 0, stderr);
        (code, stdout, stderr) = Run(["run", merged, "--prompt", "Once upon a time", "--steps", "24", "--temperature", "0"]);
        Assert.True(code == 0, stderr);
        Assert.StartsWith("Once upon a time", stdout);
        // The merged file is another model: the adapter no longer applies to it.
        (code, _, stderr) = Run(["run", merged, "--adapter", adapter, "--prompt", "Once"]);
        Assert.Equal(2, code);
        Assert.Contains("not on", stderr);
    }

    /// <summary>
    /// Perplexity of the merged file against the unmerged adapter's: the same weights through the compressed kernels and
    /// through the adapter's float ranks, summed in another order, ~1e-6 relative.
    /// </summary>
    private const double MergedPerplexityTolerance = 1e-4;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_quantization_aware_adapter_merges_into_a_file_that_scores_as_the_adapter_does(bool trainNorms)
    {
        using var dir = new TempDirectory();
        string text = Text(dir, 6000), adapter = dir.File("qat.calda"), merged = dir.File("merged.cald");
        var (code, stdout, stderr) = Run(["finetune", CompressedStories.Path, "--text", text, "-o", adapter, "--rank", "16", "--steps", "6",
            "--seq-len", "32", "--lr", "0.03", "--quantization-aware", "--threads", "2", .. (trainNorms ? new[] { "--train-norms" } : [])]);
        Assert.True(code == 0, stderr);
        (code, stdout, stderr) = Run(["adapter", "inspect", adapter]);
        Assert.True(code == 0, stderr);
        Assert.Contains("quantization-aware", stdout);
        // stories260K: 5 layers, two norms each and the final one, 64 wide.
        if (trainNorms) Assert.Contains("norm gains         11 (blk.0.attn_norm.weight … output_norm.weight), 704 fp32 parameters", stdout);
        else Assert.DoesNotContain("norm gains", stdout);
        Assert.Equal(trainNorms ? 11 : 0, AdapterFile.Read(adapter).Gains.Count);
        (code, stdout, stderr) = Run(["adapter", "merge", CompressedStories.Path, adapter, "-o", merged]);
        Assert.True(code == 0, stderr);
        Assert.Equal(trainNorms, stdout.Contains("and 11 norm gains"));

        double Perplexity(params string[] model)
        {
            var (c, output, error) = Run(["eval", .. model, "--text", text, "--ctx", "64", "--threads", "2", "--json"]);
            Assert.True(c == 0, error);
            return System.Text.Json.JsonDocument.Parse(output).RootElement.GetProperty("perplexity").GetDouble();
        }
        double adapted = Perplexity(CompressedStories.Path, "--adapter", adapter), mergedPerplexity = Perplexity(merged);
        Assert.Equal(adapted, mergedPerplexity, adapted * MergedPerplexityTolerance);
        Assert.NotEqual(Perplexity(CompressedStories.Path), adapted, adapted * MergedPerplexityTolerance);
    }

    [Theory]
    [InlineData("empty", "is empty")]
    [InlineData("short", "fewer than one window")]
    [InlineData("exploding", "diverged; lower the learning rate")]
    public void Bad_input_exits_2_with_a_clear_message_and_writes_nothing(string input, string message)
    {
        using var dir = new TempDirectory();
        string text = dir.File("t.txt"), adapter = dir.File("a.calda");
        File.WriteAllText(text, input == "empty" ? "  \n" : TestModels.TinyStoriesPrefix(input == "short" ? 40 : 3000));
        var (code, _, stderr) = Run(["finetune", CompressedStories.Path, "--text", text, "-o", adapter, "--steps", "4", "--seq-len", "64",
            "--lr", input == "exploding" ? "1e30" : "0.001"]);
        Assert.Equal(2, code);
        Assert.Contains(message, stderr);
        Assert.Equal([text], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void A_model_whose_classifier_is_compressed_exits_2_naming_the_option_that_makes_it_trainable()
    {
        using var dir = new TempDirectory();
        string model = dir.File("cls.cald"), adapter = dir.File("a.calda");
        var log = new StringWriter();
        Assert.Equal(0, CalderaCli.Run(["compress", TestModels.Stories260KBin, "--tokenizer", TestModels.Tok512Model, "-o", model,
            "--rank", "4", "--preset", "fast", "--samples", "8", "--seq-len", "64", "--classifier", "caldera"], log, log));
        var (code, _, stderr) = Run(["finetune", model, "--text", Text(dir, 3000), "-o", adapter, "--steps", "1", "--seq-len", "32"]);
        Assert.Equal(2, code);
        Assert.Contains("cls.cald stores its classifier compressed", stderr);
        Assert.Contains("--classifier embedding", stderr);
        Assert.False(File.Exists(adapter));
    }

    [Fact]
    public void A_cancelled_finetune_leaves_no_adapter()
    {
        using var dir = new TempDirectory();
        string adapter = dir.File("a.calda");
        var (code, _, stderr) = Run(["finetune", CompressedStories.Path, "--text", Text(dir, 3000), "-o", adapter, "--steps", "4", "--seq-len", "32"],
            new CancellationToken(canceled: true));
        Assert.Equal(CalderaCli.Cancelled, code);
        Assert.Contains("no adapter was written", stderr);
        Assert.False(File.Exists(adapter));
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void A_stopped_finetune_resumes_with_resume_to_the_same_adapter()
    {
        using var dir = new TempDirectory();
        string text = Text(dir, 6000), whole = dir.File("whole.calda"), resumed = dir.File("resumed.calda");
        // 100 steps, checkpointed about every fifth: the stop lands long before the run could end on its own, which a
        // 5-step run on a quiet machine sometimes did before the watcher saw its first checkpoint.
        string[] Args(string output) => ["finetune", CompressedStories.Path, "--text", text, "-o", output, "--steps", "100", "--seq-len", "32", "--rank", "4", "--lr", "0.003"];
        Assert.Equal(0, Run(Args(whole)).Code);
        Assert.False(File.Exists(whole + ".checkpoint"));
        // Stopped as soon as its first checkpoint exists, as a run killed after that step would be. The watcher is a
        // thread of its own: as a pool task it waited behind the parallel test classes' work for longer than the
        // run's remaining steps, and the run finished uncancelled.
        using var stop = new CancellationTokenSource();
        var watcher = new Thread(() =>
        {
            while (!File.Exists(resumed + ".checkpoint") && !stop.IsCancellationRequested) Thread.Sleep(1);
            stop.Cancel();
        }) { IsBackground = true };
        watcher.Start();
        Assert.Equal(CalderaCli.Cancelled, Run(Args(resumed), stop.Token).Code);
        watcher.Join();
        Assert.False(File.Exists(resumed));
        Assert.True(File.Exists(resumed + ".checkpoint"));
        var (code, _, stderr) = Run([.. Args(resumed), "--resume"]);
        Assert.True(code == 0, stderr);
        Assert.Equal(File.ReadAllBytes(whole), File.ReadAllBytes(resumed));
    }

    [Fact]
    public void An_adapter_whose_norm_gain_does_not_fit_the_model_exits_2_naming_the_adapter()
    {
        using var dir = new TempDirectory();
        string adapter = dir.File("a.calda");
        Assert.Equal(0, Run(["finetune", CompressedStories.Path, "--text", Text(dir, 3000), "-o", adapter, "--steps", "1", "--seq-len", "32", "--train-norms"]).Code);
        var read = AdapterFile.Read(adapter);
        AdapterFile.Write(adapter, read with { Gains = [read.Gains[0] with { Values = read.Gains[0].Values[..^1] }, .. read.Gains.Skip(1)] });
        foreach (var args in new[]
        {
            new[] { "run", CompressedStories.Path, "--adapter", adapter, "--prompt", "Once" },
            ["eval", CompressedStories.Path, "--adapter", adapter, "--text", Text(dir, 3000), "--ctx", "32"],
            ["adapter", "merge", CompressedStories.Path, adapter, "-o", dir.File("merged.cald")],
        })
        {
            var (code, _, stderr) = Run(args);
            Assert.Equal(2, code);
            Assert.Contains(adapter, stderr);
            Assert.Contains("blk.0.attn_norm.weight has 63 values, the model's width is 64", stderr);
        }
        Assert.False(File.Exists(dir.File("merged.cald")));
    }

    [Fact]
    public void An_adapter_for_another_model_exits_2_naming_the_adapter()
    {
        using var dir = new TempDirectory();
        string adapter = dir.File("a.calda");
        Assert.Equal(0, Run(["finetune", CompressedStories.Path, "--text", Text(dir, 3000), "-o", adapter, "--steps", "1", "--seq-len", "32"]).Code);
        var other = AdapterFile.Read(adapter);
        AdapterFile.Write(adapter, other with { BaseChecksum = other.BaseChecksum ^ 0xFF, BaseName = "other.cald" });
        var (code, _, stderr) = Run(["run", CompressedStories.Path, "--adapter", adapter, "--prompt", "Once"]);
        Assert.Equal(2, code);
        Assert.Contains(adapter, stderr);
        Assert.Contains("was trained on other.cald", stderr);
    }
}
