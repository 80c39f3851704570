namespace Caldera.Build.Tests;

/// <summary>
/// The README's promise for samples/StoryTeller: <c>dotnet publish -c Release -r linux-x64</c> makes one NativeAOT
/// executable that, copied alone into an empty folder, tells the same greedy story as <c>caldera run</c> on the model
/// the build compressed (generated kernels and the zero-copy resource loader under AOT against the generic JIT path).
/// The app limits output tokens and <c>caldera run</c> positions (llama2.c's steps), so the app's 64 tokens must be the
/// start of <c>caldera run</c>'s longer story, byte for byte. The arithmetic is specified identical when both use the
/// same vector width: generated kernels equal the generic ones bit for bit, and every integer path (AVX2, AVX-VNNI,
/// VBMI) equals the scalar one bit for bit. The AOT binary targets x86-64-v3, whose widest vectors are 256 bits, so
/// <c>caldera run</c> runs with <c>DOTNET_EnableAVX512=0</c> (.NET 10's switch; it ignores the older <c>DOTNET_EnableAVX512F</c>), 256-bit vectors on every x86-64 machine too.
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
            var reference = DotNet.Exec("dotnet", root, new Dictionary<string, string> { ["DOTNET_EnableAVX512"] = "0" },
                Path.Combine(TestPaths.CliOutput, "caldera.dll"), "run", cald, "--prompt", Prompt, "--temperature", "0", "--steps", Steps);
            Assert.True(reference.ExitCode == 0, reference.ToString());
            string told = story.Text();
            Assert.True(told.Length > Prompt.Length + 100, $"the app told only '{told}'");
            Assert.StartsWith(told, reference.Text(), StringComparison.Ordinal);
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); }
            catch (IOException) { /* the OS cleans the temp folder */ }
        }
    }
}
