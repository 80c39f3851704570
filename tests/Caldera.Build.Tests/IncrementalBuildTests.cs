using Caldera.Common;

namespace Caldera.Build.Tests;

/// <summary>
/// The compile target is incremental: a second build (even after the project file is touched) skips it and
/// leaves the .cald alone; a changed parameter (Rank) recompresses. Storage="trailer" ends up appended to the
/// published native executable and nowhere else. These builds run `caldera describe` (contract section 2).
/// </summary>
[Collection(PackageFeedCollection.Name)]
public sealed class IncrementalBuildTests(PackageFeed feed)
{
    [Fact]
    public void Second_build_skips_compression_changed_rank_recompresses()
    {
        string Item(int rank) => $"""<CalderaModel Include="{TestPaths.Stories260KBin}" Name="Stories" Rank="{rank}" Tokenizer="{TestPaths.Tok512Model}" />""";
        var project = feed.CreateProject("incremental", Item(8));
        string cald = Path.Combine(project.CalderaOutput(), "Stories.cald");

        var first = project.Build();
        AssertSucceeded(first);
        Assert.Contains("Caldera: compressing", first.Output);
        Assert.True(File.Exists(Path.Combine(project.CalderaOutput(), "Stories.model.json")), "the build describes the model for the generator");
        var compressedAt = File.GetLastWriteTimeUtc(cald);
        long rank8Length = new FileInfo(cald).Length;

        project.WriteProjectFile(Item(8));   // a newer project file with the same parameters
        var second = project.Build("-v:d");
        AssertSucceeded(second);
        Assert.Contains("Skipping target \"CalderaCompileModels\" because all output files are up-to-date", second.Output);
        Assert.DoesNotContain("Caldera: compressing", second.Output);
        Assert.Equal(compressedAt, File.GetLastWriteTimeUtc(cald));

        project.WriteProjectFile(Item(12));
        var third = project.Build();
        AssertSucceeded(third);
        Assert.Contains("Caldera: compressing", third.Output);
        Assert.Contains("rank 12", third.Output);
        Assert.NotEqual(compressedAt, File.GetLastWriteTimeUtc(cald));
        Assert.True(new FileInfo(cald).Length > rank8Length, "rank 12 factors take more bytes than rank 8");
    }

    /// <summary>
    /// Published as a user publishes a NativeAOT app (<c>-r linux-x64</c>, with and without <c>-o</c>): the executable
    /// left in the publish folder carries the model, whatever order the SDK runs its own after-publish copy in, and,
    /// copied alone into an empty folder, tells the story <c>caldera run</c> tells from the same .cald.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Trailer_storage_is_inside_the_published_native_executable_that_runs_alone(bool outputOption)
    {
        if (!OperatingSystem.IsLinux() || System.Runtime.InteropServices.RuntimeInformation.OSArchitecture != System.Runtime.InteropServices.Architecture.X64)
            Assert.Fail("this test publishes for linux-x64; run it on a linux-x64 machine");
        const string prompt = "Once upon a time";
        string name = outputOption ? "trailer-app-o" : "trailer-app";
        var project = feed.CreateProject(name,
            $"""<CalderaModel Include="{TestPaths.Stories260KBin}" Name="Stories" Rank="8" Tokenizer="{TestPaths.Tok512Model}" Storage="trailer" Namespace="TrailerApp" />""",
            $$"""
            // Loads from the trailer of its own executable and says where the weights came from.
            using var model = TrailerApp.Stories.Load();
            var greedy = new Caldera.GenerationOptions { MaxOutputTokens = 64, Sampling = new Caldera.SamplingOptions { Temperature = 0 } };
            System.Console.Error.WriteLine($"loaded {model.SourcePath}");
            System.Console.WriteLine(string.Concat(model.Generate("{{prompt}}", greedy)));
            """);
        string publishDirectory = outputOption
            ? Path.Combine(project.Directory, "published")
            : Path.Combine(project.Directory, "bin", "Release", TestProject.TargetFramework, "linux-x64", "publish");
        // For this machine's instruction sets, as the JIT that runs caldera run compiles: the float parts of a step
        // (attention, norms, transforms) then sum in the same vector order, and the two stories can be compared to the
        // byte. At NativeAOT's default baseline they sum in another order and this rank-8 story parts at a near tie.
        string[] options = ["-c", "Release", "-r", "linux-x64", "-p:PublishAot=true", "-p:IlcInstructionSet=native"];

        var publish = project.Publish(outputOption ? [.. options, "-o", publishDirectory] : options);

        AssertSucceeded(publish);
        Assert.Contains("Caldera: appended Stories", publish.Output);
        Assert.False(File.Exists(Path.Combine(publishDirectory, "Stories.cald")), "the executable carries the model");
        string cald = Path.Combine(project.Directory, "obj", "Release", TestProject.TargetFramework, "linux-x64", "caldera", "Stories.cald");
        byte[] file = File.ReadAllBytes(Path.Combine(publishDirectory, name));
        Assert.True(file.AsSpan(file.Length - TrailerLayout.FooterLength).StartsWith(TrailerLayout.Magic), "the published executable ends in a trailer footer");
        Assert.True(file.AsSpan().IndexOf(File.ReadAllBytes(cald)) > 0, "the .cald's bytes are inside the published executable");

        string alone = Path.Combine(project.Directory, "alone");
        Directory.CreateDirectory(alone);
        string executable = Path.Combine(alone, name);
        File.Copy(Path.Combine(publishDirectory, name), executable);
        var run = DotNet.Exec(executable, alone);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains($"loaded trailer entry Stories of {executable}", run.Output);
        Assert.Single(Directory.GetFiles(alone));

        // The app limits output tokens and caldera run positions (llama2.c's steps): the app's story starts caldera run's.
        var reference = DotNet.Run(alone, Path.Combine(TestPaths.CliOutput, "caldera.dll"), "run", cald, "--prompt", prompt, "--temperature", "0", "--steps", "160");
        Assert.True(reference.ExitCode == 0, reference.ToString());
        string story = run.Text("loaded ");
        Assert.True(story.Length > prompt.Length + 100, $"the app told only '{story}'");
        Assert.StartsWith(prompt + story, reference.Text(), StringComparison.Ordinal);
    }

    private static void AssertSucceeded(DotNet.Result result) => Assert.True(result.ExitCode == 0, result.ToString());
}
