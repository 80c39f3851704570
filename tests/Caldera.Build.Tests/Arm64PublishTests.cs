namespace Caldera.Build.Tests;

/// <summary>
/// The README's arm64 command: <c>dotnet publish samples/StoryTeller -c Release -r linux-arm64</c> on this x86-64
/// machine makes one NativeAOT arm64 executable that, copied alone into an empty folder and run under qemu-aarch64,
/// tells the story of <c>caldera run</c> on the model the build compressed, restricted to 128-bit vectors
/// (<c>DOTNET_PreferredVectorBitWidth=128</c>): Arm's NEON paths and the x86 JIT's portable paths are the same code at
/// the same width, so the text is the same byte for byte, in float arithmetic and in int8. It runs twice: on qemu's
/// <c>max</c> CPU, whose dot product (SDOT) the int8 kernels use, and on a Cortex-A53 (Armv8.0-A, no dot product),
/// which takes the portable int8 path; integer sums are exact on both, so their stories are equal too. Then it adapts its
/// model to the sample's text for a few steps (fine-tuning needs nothing the device may lack, OpenSSL included: the
/// sysroot has none), writes an adapter that <c>caldera adapter inspect --model</c> accepts, and tells another story with it.
/// </summary>
/// <remarks>
/// Against the x86-64-v3 binary (256-bit vectors) the arithmetic is not specified equal: sums round in another order,
/// and greedy decoding may part at a near tie (benchmarks/README.md's Arm section has what was measured).
/// In the package-feed collection for the reason <see cref="SamplePublishTests"/> gives.
/// </remarks>
[Collection(PackageFeedCollection.Name)]
public sealed class Arm64PublishTests
{
    private const string Prompt = "Once upon a time";
    private const string MaxTokens = "64";
    private const string Steps = "160";

    [Arm64CrossFact]
    public void Published_linux_arm64_sample_runs_alone_under_qemu_and_tells_the_story_of_the_portable_vector_paths()
    {
        string project = Path.Combine(TestPaths.RepoRoot, "samples", "StoryTeller");
        string root = Path.Combine(Path.GetTempPath(), "caldera-arm64-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            string published = Path.Combine(root, "published"), empty = Path.Combine(root, "empty");
            var publish = DotNet.Run(project, "publish", "-nodeReuse:false", "-c", "Release", "-r", "linux-arm64", "-o", published);
            Assert.True(publish.ExitCode == 0, publish.ToString());

            Directory.CreateDirectory(empty);
            string app = Path.Combine(empty, "StoryTeller");
            File.Copy(Path.Combine(published, "StoryTeller"), app);
            string cald = Path.Combine(project, "obj", "Release", "net10.0", "linux-arm64", "caldera", "Stories.cald");
            foreach (bool useFloat in new[] { false, true })
            {
                string[] mode = useFloat ? ["--float"] : [];
                var stories = new[] { "max", "cortex-a53" }.Select(cpu =>
                {
                    var story = DotNet.Exec("qemu-aarch64", empty, ["-cpu", cpu, "-L", Arm64CrossFactAttribute.SysRoot, app, Prompt, "--max-tokens", MaxTokens, .. mode]);
                    Assert.True(story.ExitCode == 0, $"qemu-aarch64 -cpu {cpu}: {story}");
                    return story.Text();
                }).ToList();
                Assert.Single(Directory.GetFiles(empty));
                Assert.Equal(stories[0], stories[1]);

                var reference = DotNet.Exec("dotnet", root, new Dictionary<string, string> { ["DOTNET_PreferredVectorBitWidth"] = "128" },
                    [Path.Combine(TestPaths.CliOutput, "caldera.dll"), "run", cald, "--prompt", Prompt, "--temperature", "0", "--steps", Steps, .. mode]);
                Assert.True(reference.ExitCode == 0, reference.ToString());
                Assert.True(stories[0].Length > Prompt.Length + 100, $"the app told only '{stories[0]}'");
                Assert.StartsWith(stories[0], reference.Text(), StringComparison.Ordinal);
            }

            string text = Path.Combine(project, "pip-the-pirate.txt"), adapter = Path.Combine(root, "pip.calda");
            string[] qemu = ["-L", Arm64CrossFactAttribute.SysRoot, app];
            // 16 steps: 4 move the ranks too little to change the 64-token greedy story (measured on x64 at 128- and
            // 512-bit widths: the story with a 4- or 8-step adapter is the plain one, with a 16-step one it is not).
            var adapt = DotNet.Exec("qemu-aarch64", empty, [.. qemu, "--adapt", text, "--adapter", adapter, "--steps", "16"]);
            Assert.True(adapt.ExitCode == 0, adapt.ToString());
            var inspect = DotNet.Exec("dotnet", root, Path.Combine(TestPaths.CliOutput, "caldera.dll"), "adapter", "inspect", adapter, "--model", cald);
            Assert.True(inspect.ExitCode == 0, inspect.ToString());
            var adapted = DotNet.Exec("qemu-aarch64", empty, [.. qemu, Prompt, "--max-tokens", MaxTokens, "--adapter", adapter]);
            var plain = DotNet.Exec("qemu-aarch64", empty, [.. qemu, Prompt, "--max-tokens", MaxTokens]);
            Assert.True(adapted.ExitCode == 0 && plain.ExitCode == 0, adapted.ToString());
            Assert.NotEqual(plain.Text(), adapted.Text());
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); }
            catch (IOException) { /* the OS cleans the temp folder */ }
        }
    }
}
