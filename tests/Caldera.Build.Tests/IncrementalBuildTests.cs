using Caldera.Common;

namespace Caldera.Build.Tests;

/// <summary>
/// The compile target is incremental: a second build (even after the project file is touched) skips it and
/// leaves the .cald alone; a changed parameter (Rank) recompresses. Storage="trailer" ends up appended to the
/// published executable and nowhere else. These builds run `caldera describe` (contract section 2).
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

    [Fact]
    public void Trailer_storage_is_appended_to_the_published_executable_not_published_beside_it()
    {
        var project = feed.CreateProject("trailer-app",
            $"""<CalderaModel Include="{TestPaths.Stories260KBin}" Name="Stories" Rank="8" Tokenizer="{TestPaths.Tok512Model}" Storage="trailer" Namespace="TrailerApp" />""",
            """
            // Loads from the trailer of its own executable and says where the weights came from.
            using var model = TrailerApp.Stories.Load();
            var options = new Caldera.GenerationOptions { MaxOutputTokens = 32, EchoPrompt = true };
            System.Console.WriteLine($"loaded {model.SourcePath}: {string.Concat(model.Generate("Once upon a time", options))}");
            """);
        string publishDirectory = Path.Combine(project.Directory, "published");

        var publish = project.Publish("-c", "Release", "-o", publishDirectory);

        AssertSucceeded(publish);
        Assert.Contains("Caldera: appended Stories", publish.Output);
        Assert.False(File.Exists(Path.Combine(publishDirectory, "Stories.cald")), "the executable carries the model");
        byte[] cald = File.ReadAllBytes(Path.Combine(project.CalderaOutput("Release"), "Stories.cald"));
        string executable = Path.Combine(publishDirectory, OperatingSystem.IsWindows() ? "trailer-app.exe" : "trailer-app");
        byte[] file = File.ReadAllBytes(executable);
        Assert.True(file.AsSpan(file.Length - TrailerLayout.FooterLength).StartsWith(TrailerLayout.Magic), "the executable ends in a trailer footer");
        Assert.True(file.AsSpan().IndexOf(cald) > 0, "the .cald's bytes are inside the executable");

        var run = DotNet.Exec(executable, publishDirectory);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains($"loaded trailer entry Stories of {executable}", run.Output);
        Assert.Contains("Once upon a time", run.Output);
    }

    private static void AssertSucceeded(DotNet.Result result) => Assert.True(result.ExitCode == 0, result.ToString());
}
