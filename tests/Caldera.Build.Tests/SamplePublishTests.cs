namespace Caldera.Build.Tests;

/// <summary>
/// The README's promise for samples/StoryTeller: <c>dotnet publish -c Release -r linux-x64</c> makes one NativeAOT
/// executable that, copied alone into an empty folder, tells the same greedy story as <c>caldera run</c> on the model
/// the build compressed (generated kernels and the zero-copy resource loader under AOT against the generic JIT path).
/// The app limits output tokens and <c>caldera run</c> positions (llama2.c's steps), so the app's 64 tokens must be the
/// start of <c>caldera run</c>'s longer story. Not byte for byte: the AOT binary targets x86-64-v3 (256-bit vectors)
/// while the JIT uses the widest vectors of the machine, and the float parts of the arithmetic sum in another order, so
/// the stories are compared up to the first near tie of two logits (<see cref="GreedyTrace"/>).
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
            var reference = DotNet.Run(root, Path.Combine(TestPaths.CliOutput, "caldera.dll"), "run", cald,
                "--prompt", Prompt, "--temperature", "0", "--steps", Steps);
            Assert.True(reference.ExitCode == 0, reference.ToString());
            string told = FirstLines(story.Output);
            Assert.True(told.Length > Prompt.Length + 100, $"the app told only '{told}'");
            string agreed = BeforeFirstNearTie(cald);
            string compared = agreed.Length < told.Length ? agreed : told;
            Assert.True(compared.Length > Prompt.Length + 100, $"the first near tie comes after only '{agreed}'");
            Assert.StartsWith(compared, told, StringComparison.Ordinal);
            Assert.StartsWith(compared, agreed, StringComparison.Ordinal);
            Assert.StartsWith(compared, FirstLines(reference.Output), StringComparison.Ordinal);
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); }
            catch (IOException) { /* the OS cleans the temp folder */ }
        }
    }

    /// <summary>The greedy story up to its first near tie, under the generated app's default arithmetic (int8 activations, 6-bit classifier).</summary>
    private static string BeforeFirstNearTie(string cald)
    {
        using var model = Caldera.Runtime.Model.LoadedModel.Open(cald);
        using var transformer = model.CreateTransformer(new Caldera.Runtime.Inference.TransformerOptions
        {
            Threads = 1, ContextLength = int.Parse(Steps, System.Globalization.CultureInfo.InvariantCulture), Int8Activations = true,
            ClassifierPrecision = Caldera.Runtime.Inference.ClassifierPrecision.Int6,
        });
        return GreedyTrace.TextBeforeFirstNearTie(transformer, model.EmbeddedTokenizer()!, Prompt, transformer.ContextLength).Text;
    }

    /// <summary>The story without caldera run's trailing statistics line.</summary>
    private static string FirstLines(string output) =>
        string.Join('\n', output.ReplaceLineEndings("\n").Split('\n').Where(l => !l.StartsWith("achieved tok/s", StringComparison.Ordinal))).Trim();
}
