using System.Text.Json;

namespace Caldera.Build.Tests;

/// <summary>
/// <c>Distill="true"</c> in a fresh package-consuming project: the build compresses stories260K, distils it toward
/// the checkpoint on the calibration text and embeds the merged model, which is byte for byte what the three CLI steps
/// make by hand, and whose logits are not the undistilled model's. The distill settings are in the incremental stamp:
/// an unchanged build does nothing, a changed setting distils again from the kept compression. A rejected
/// distillation, and Ctrl+C while distilling, leave no model in place; the next build resumes the cancelled run to the
/// bytes of an uninterrupted one. Tiny step counts keep each build seconds long.
/// </summary>
[Collection(PackageFeedCollection.Name)]
public sealed class DistillBuildTests(PackageFeed feed)
{
    /// <summary>Enough text for a few dozen windows of 32 tokens (stories260K's 512-token vocabulary: about 4 bytes a token).</summary>
    private const int CalibrationBytes = 12_000;

    /// <summary>
    /// From Ctrl+C to the build's exit: the trainer checks for cancellation between steps (milliseconds each for
    /// stories260K at 32 tokens), then MSBuild winds down; seconds on a loaded two-core machine.
    /// </summary>
    private static readonly TimeSpan PromptStop = TimeSpan.FromSeconds(20);

    private static string Item(string distill) =>
        $"""<CalderaModel Include="{TestPaths.Stories260KBin}" Name="Stories" Rank="8" Tokenizer="{TestPaths.Tok512Model}" Calibration="calibration.txt" {distill} />""";

    /// <summary>A rate at which a few steps move some ranks by a step of the 4-bit grid, so the merged model differs from the base.</summary>
    private const string Tiny = """Distill="true" DistillSteps="6" DistillRank="8" DistillSequenceLength="32" DistillLearningRate="0.03" """;

    private TestProject CreateProject(string name, string distill)
    {
        var project = feed.CreateProject(name, Item(distill));
        using var text = File.OpenRead(TestPaths.TinyStoriesText);
        var head = new byte[CalibrationBytes];
        text.ReadExactly(head);
        // Cut at a line end, so the file stays UTF-8 whatever the text holds there.
        File.WriteAllBytes(Path.Combine(project.Directory, "calibration.txt"), head.AsSpan(0, head.AsSpan().LastIndexOf((byte)'\n') + 1).ToArray());
        return project;
    }

    /// <summary>The tool the package bundles, which the build ran.</summary>
    private string Tool => Path.Combine(feed.Root, "packages", "caldera.build", "0.1.0", "tools", "net10.0", "caldera.dll");

    [Fact]
    public void Distilled_build_embeds_the_model_the_cli_steps_make_by_hand_and_its_logits_are_not_the_undistilled_ones()
    {
        var project = CreateProject("distill-app", Tiny);
        string output = project.CalderaOutput();
        string calibration = Path.Combine(project.Directory, "calibration.txt");

        var build = project.Build("-v:n");

        AssertSucceeded(build);
        Assert.Contains("Caldera: compressing", build.Output);
        Assert.Contains("Caldera: distilling", build.Output);
        Assert.Contains("(steps 6, lr 0.03, rank 8, seq-len 32)", build.Output);
        Assert.Contains("step 6/6  loss", build.Output);   // the trainer's progress reaches a normal build log
        string built = Path.Combine(output, "Stories.cald");
        Assert.Equal(File.ReadAllBytes(built), EmbeddedModel(Path.Combine(project.Directory, "bin", "Debug", TestProject.TargetFramework, "distill-app.dll")));

        string hand = Path.Combine(project.Directory, "by-hand");
        Directory.CreateDirectory(hand);
        RunTool(hand, "compress", TestPaths.Stories260KBin, "-o", "base.cald", "--method", "caldera", "--preset", "fast", "--q-bits", "2", "--lr-bits", "4",
            "--rank", "8", "--calibration", calibration, "--tokenizer", TestPaths.Tok512Model);
        RunTool(hand, "finetune", "base.cald", "--teacher", TestPaths.Stories260KBin, "--text", calibration, "-o", "distill.calda",
            "--steps", "6", "--lr", "0.03", "--rank", "8", "--seq-len", "32", "--quantization-aware");
        RunTool(hand, "adapter", "merge", "base.cald", "distill.calda", "-o", "merged.cald");

        Assert.Equal(File.ReadAllBytes(Path.Combine(hand, "base.cald")), File.ReadAllBytes(Path.Combine(output, "Stories.base.cald")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(hand, "merged.cald")), File.ReadAllBytes(built));

        // The build's model against the undistilled one, on the calibration text: distillation moved its distributions.
        var eval = RunTool(hand, "eval", built, "--reference", Path.Combine(output, "Stories.base.cald"), "--text", calibration, "--ctx", "64", "--json");
        double kld = JsonDocument.Parse(eval.Output[eval.Output.IndexOf('{')..]).RootElement.GetProperty("mean_kld").GetDouble();
        Assert.True(kld > 0, $"the distilled model's logits equal the undistilled one's:\n{eval}");
    }

    [Fact]
    public void An_unchanged_build_is_skipped_and_a_changed_distill_setting_distils_again_without_compressing()
    {
        var project = CreateProject("distill-incremental", Tiny);
        string cald = Path.Combine(project.CalderaOutput(), "Stories.cald");
        string baseCald = Path.Combine(project.CalderaOutput(), "Stories.base.cald");

        AssertSucceeded(project.Build());
        var distilledAt = File.GetLastWriteTimeUtc(cald);
        var compressedAt = File.GetLastWriteTimeUtc(baseCald);
        byte[] sixSteps = File.ReadAllBytes(cald);

        project.WriteProjectFile(Item(Tiny));   // a newer project file with the same settings
        var unchanged = project.Build("-v:d");
        AssertSucceeded(unchanged);
        Assert.Contains("Skipping target \"CalderaCompileModels\" because all output files are up-to-date", unchanged.Output);
        Assert.DoesNotContain("Caldera: distilling", unchanged.Output);
        Assert.Equal(distilledAt, File.GetLastWriteTimeUtc(cald));

        project.WriteProjectFile(Item(Tiny.Replace("DistillSteps=\"6\"", "DistillSteps=\"8\"", StringComparison.Ordinal)));
        var changed = project.Build("-v:n");
        AssertSucceeded(changed);
        Assert.Contains("Caldera: distilling", changed.Output);
        Assert.Contains("step 8/8  loss", changed.Output);
        Assert.Contains("was compressed with these settings already; reusing", changed.Output);
        Assert.DoesNotContain("Caldera: compressing", changed.Output);
        Assert.Equal(compressedAt, File.GetLastWriteTimeUtc(baseCald));
        Assert.NotEqual(sixSteps, File.ReadAllBytes(cald));
    }

    [Fact]
    public void A_window_longer_than_the_context_is_relayed_from_finetune_with_CALD1022_and_leaves_no_model()
    {
        var project = CreateProject("distill-long-window", """Distill="true" DistillSteps="2" DistillSequenceLength="1024" """);

        var build = project.Build();

        Assert.True(build.ExitCode != 0, build.ToString());
        Assert.Contains("error CALD1022:", build.Output);
        Assert.Contains("caldera finetune rejected the input: finetune: sequence length 1024 exceeds the model's context of 512", build.Output);
        Assert.False(File.Exists(Path.Combine(project.CalderaOutput(), "Stories.cald")), "a failed distillation must leave no .cald behind");
    }

    /// <summary>
    /// 120 steps: progress every 2 (the trainer prints about fifty lines a run), a checkpoint every 6 (about twenty a run).
    /// The interrupt goes out at step 30, so a checkpoint is on disk and most of the run is still to do.
    /// </summary>
    [Fact]
    public void CtrlC_while_distilling_stops_the_trainer_and_the_next_build_resumes_to_the_bytes_of_an_uninterrupted_run()
    {
        if (!OperatingSystem.IsLinux()) Assert.Fail("this test sends SIGINT with kill(1) and reads /proc; run it on Linux");
        const string settings = """Distill="true" DistillSteps="120" DistillRank="8" DistillSequenceLength="32" """;
        var project = CreateProject("distill-cancel", settings);
        string output = project.CalderaOutput();
        string checkpoint = Path.Combine(output, "Stories.calda.partial.checkpoint");
        var restore = DotNet.Run(project.Directory, "restore");
        Assert.True(restore.ExitCode == 0, restore.ToString());

        var build = DotNet.ExecInterrupted("dotnet", project.Directory, "step 30/120", "build", "-nodeReuse:false", "--no-restore", "-v:n");

        Assert.True(build.StopAfterInterrupt is not null, $"the build never reported step 30:\n{build}");
        Assert.True(build.ExitCode != 0, build.ToString());
        Assert.Contains("Caldera: cancelled", build.Output);
        Assert.DoesNotContain("step 120/120", build.Output);
        Assert.True(build.StopAfterInterrupt.Value < PromptStop, $"the build took {build.StopAfterInterrupt} after Ctrl+C to stop:\n{build}");
        Assert.False(File.Exists(Path.Combine(output, "Stories.cald")), "a cancelled distillation left a model in place");
        Assert.Empty(CancellationTests.CompilerProcessesIn(project.Directory));
        Assert.True(File.Exists(checkpoint), "the trainer left no checkpoint to resume from");
        // Kept to play a cancelled run of other settings below.
        string stale = Path.Combine(project.Directory, "stale");
        Directory.CreateDirectory(stale);
        foreach (string file in new[] { checkpoint, checkpoint + ".key" }) File.Copy(file, Path.Combine(stale, Path.GetFileName(file)));

        var resumed = project.Build("-v:n");

        AssertSucceeded(resumed);
        Assert.Contains("was compressed with these settings already; reusing", resumed.Output);
        Assert.Contains("step 120/120  loss", resumed.Output);
        Assert.DoesNotContain("step 2/120  loss", resumed.Output);   // it went on from the checkpoint, not from step 1
        Assert.False(File.Exists(checkpoint), "the finished run left its checkpoint");
        string hand = Path.Combine(project.Directory, "by-hand");
        Directory.CreateDirectory(hand);
        string baseCald = Path.Combine(output, "Stories.base.cald");
        string calibration = Path.Combine(project.Directory, "calibration.txt");
        RunTool(hand, "finetune", baseCald, "--teacher", TestPaths.Stories260KBin, "--text", calibration, "-o", "distill.calda",
            "--steps", "120", "--lr", "0.002", "--rank", "8", "--seq-len", "32", "--quantization-aware");
        RunTool(hand, "adapter", "merge", baseCald, "distill.calda", "-o", "merged.cald");
        Assert.Equal(File.ReadAllBytes(Path.Combine(hand, "merged.cald")), File.ReadAllBytes(Path.Combine(output, "Stories.cald")));

        // A checkpoint that a cancelled build of other settings left: the tool would refuse to resume it, so the build starts afresh.
        foreach (string file in Directory.GetFiles(stale)) File.Copy(file, Path.Combine(output, Path.GetFileName(file)));
        project.WriteProjectFile(Item(settings.Replace("DistillSteps=\"120\"", "DistillSteps=\"4\"", StringComparison.Ordinal)));
        var changed = project.Build("-v:n");
        AssertSucceeded(changed);
        Assert.Contains("step 4/4  loss", changed.Output);
    }

    /// <summary>The bytes of the app's embedded model resource, read without running the app.</summary>
    private static byte[] EmbeddedModel(string assemblyPath)
    {
        var context = new System.Runtime.Loader.AssemblyLoadContext(nameof(EmbeddedModel), isCollectible: true);
        try
        {
            using var resource = context.LoadFromAssemblyPath(assemblyPath).GetManifestResourceStream("Caldera.Models.Stories.cald");
            Assert.NotNull(resource);
            using var bytes = new MemoryStream();
            resource.CopyTo(bytes);
            return bytes.ToArray();
        }
        finally
        {
            context.Unload();
        }
    }

    private DotNet.Result RunTool(string directory, params string[] arguments)
    {
        var result = DotNet.Run(directory, [Tool, .. arguments]);
        Assert.True(result.ExitCode == 0, $"caldera {string.Join(" ", arguments)}: {result}");
        return result;
    }

    private static void AssertSucceeded(DotNet.Result result) => Assert.True(result.ExitCode == 0, result.ToString());
}
