namespace Caldera.Build.Tests;

/// <summary>
/// The README's promise for samples/StoryTeller: <c>dotnet publish -c Release -r linux-x64</c> makes one NativeAOT
/// executable that, copied alone into an empty folder, tells the same greedy story as <c>caldera run</c> on the model
/// the build compressed (generated kernels and the zero-copy resource loader under AOT against the generic JIT path).
/// The app limits output tokens and <c>caldera run</c> positions (llama2.c's steps), so the app's 64 tokens must be the
/// start of <c>caldera run</c>'s longer story, byte for byte. The arithmetic is specified identical when both use the
/// same vector width: generated kernels equal the generic ones bit for bit, and every integer path (AVX2, AVX-VNNI,
/// VBMI) equals the scalar one bit for bit. The AOT binary targets x86-64-v3, whose widest vectors are 256 bits, and
/// runs its x86-64-v4 variant in its place on CPUs with AVX-512 VBMI and GFNI (<see cref="InstructionSetVariantTests"/>);
/// so <c>caldera run</c> runs with this machine's widest vectors where the variant runs and otherwise with
/// <c>DOTNET_EnableAVX512=0</c> (.NET 10's switch; it ignores the older <c>DOTNET_EnableAVX512F</c>), 256-bit vectors.
/// The same binary then adapts its model to the sample's text (fine-tuning under NativeAOT): the adapter it writes is
/// one <c>caldera adapter inspect --model</c> accepts for the build's <c>.cald</c>, and its greedy story with that adapter
/// differs from the base story and is the start of <c>caldera run --adapter</c>'s.
/// </summary>
/// <remarks>
/// In the package-feed collection although it uses no package: packing rebuilds the repository's caldera.dll, which this
/// publish runs, so the two must not overlap.
/// </remarks>
[Collection(PackageFeedCollection.Name)]
public sealed class SamplePublishTests
{
    private const string Prompt = "Once upon a time";
    private const string MaxTokens = "64";
    private const string Steps = "160";

    /// <summary>
    /// Enough for the greedy story to change on this text (it already changes after 4 at the sample's learning rate) and
    /// few enough to add about 3 s.
    /// </summary>
    private const string TrainingSteps = "12";

    /// <summary>caldera run's environment for the same vector width as the image the published executable runs on this CPU.</summary>
    private static readonly Dictionary<string, string> SameWidth =
        Caldera.Common.X86Variant.RunsOn(Caldera.Common.X86Variant.ReadCpuFlags(new StringReader(File.ReadAllText("/proc/cpuinfo"))))
            ? [] : new() { ["DOTNET_EnableAVX512"] = "0" };

    [Fact]
    public void Published_sample_is_one_file_that_tells_the_greedy_story_of_caldera_run()
    {
        if (!OperatingSystem.IsLinux() || System.Runtime.InteropServices.RuntimeInformation.OSArchitecture != System.Runtime.InteropServices.Architecture.X64)
            Assert.Fail("this test publishes for linux-x64; run it on a linux-x64 machine");
        string project = Path.Combine(TestPaths.RepoRoot, "samples", "StoryTeller");
        string root = Path.Combine(Path.GetTempPath(), "caldera-sample-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            string published = Path.Combine(root, "published"), empty = Path.Combine(root, "empty");
            var publish = DotNet.Run(project, "publish", "-nodeReuse:false", "-c", "Release", "-r", "linux-x64", "-o", published);
            Assert.True(publish.ExitCode == 0, publish.ToString());

            Directory.CreateDirectory(empty);
            string app = Path.Combine(empty, "StoryTeller");
            File.Copy(Path.Combine(published, "StoryTeller"), app);
            var story = DotNet.Exec(app, empty, Prompt, "--max-tokens", MaxTokens);
            Assert.True(story.ExitCode == 0, story.ToString());
            Assert.Single(Directory.GetFiles(empty));

            string cald = Path.Combine(project, "obj", "Release", "net10.0", "linux-x64", "caldera", "Stories.cald");
            var reference = DotNet.Exec("dotnet", root, SameWidth,
                Path.Combine(TestPaths.CliOutput, "caldera.dll"), "run", cald, "--prompt", Prompt, "--temperature", "0", "--steps", Steps);
            Assert.True(reference.ExitCode == 0, reference.ToString());
            string told = story.Text();
            Assert.True(told.Length > Prompt.Length + 100, $"the app told only '{told}'");
            Assert.StartsWith(told, reference.Text(), StringComparison.Ordinal);

            AdaptsItsModelAndTellsTheStoryOfCalderaRunWithTheAdapter(app, root, cald, told);
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); }
            catch (IOException) { /* the OS cleans the temp folder */ }
        }
    }

    private static void AdaptsItsModelAndTellsTheStoryOfCalderaRunWithTheAdapter(string app, string root, string cald, string baseStory)
    {
        string text = Path.Combine(TestPaths.RepoRoot, "samples", "StoryTeller", "pip-the-pirate.txt");
        string adapter = Path.Combine(root, "pip.calda");
        string workingDirectory = Path.GetDirectoryName(app)!;

        // Ctrl+C during training stops it and writes no adapter.
        var cancelled = DotNet.ExecInterrupted(app, workingDirectory, "step ", "--adapt", text, "--adapter", adapter, "--steps", "100000");
        Assert.True(cancelled.ExitCode == 130, cancelled.ToString());
        Assert.False(File.Exists(adapter), cancelled.ToString());

        var adapt = DotNet.Exec(app, workingDirectory, "--adapt", text, "--adapter", adapter, "--steps", TrainingSteps);
        Assert.True(adapt.ExitCode == 0, adapt.ToString());
        Assert.Matches($@"step {TrainingSteps}/{TrainingSteps}  loss \d+\.\d+  \d+ tok/s  ETA 0:00:00", adapt.Output);

        var inspect = DotNet.Exec("dotnet", root, Path.Combine(TestPaths.CliOutput, "caldera.dll"), "adapter", "inspect", adapter, "--model", cald);
        Assert.True(inspect.ExitCode == 0, inspect.ToString());
        Assert.Contains($"{TrainingSteps} steps", inspect.Output);

        var story = DotNet.Exec(app, workingDirectory, Prompt, "--max-tokens", MaxTokens, "--adapter", adapter);
        Assert.True(story.ExitCode == 0, story.ToString());
        var reference = DotNet.Exec("dotnet", root, SameWidth,
            Path.Combine(TestPaths.CliOutput, "caldera.dll"), "run", cald, "--prompt", Prompt, "--temperature", "0", "--steps", Steps, "--adapter", adapter);
        Assert.True(reference.ExitCode == 0, reference.ToString());
        string told = story.Text();
        Assert.True(told.Length > Prompt.Length + 100, $"the adapted app told only '{told}'");
        Assert.NotEqual(baseStory, told);
        Assert.StartsWith(told, reference.Text(), StringComparison.Ordinal);
    }
}
