namespace Caldera.Build.Tests;

/// <summary>
/// The whole chain as a user meets it: a fresh project with only a PackageReference to Caldera.Build and one
/// <c>&lt;CalderaModel&gt;</c> item builds, runs, and tells the same greedy story as <c>caldera run</c> on the
/// model it embedded (generated shape-specialised kernels and the embedded-resource loader against the
/// runtime's generic path). Needs <c>caldera describe</c> and the source generator (contract sections 2–4).
/// </summary>
[Collection(PackageFeedCollection.Name)]
public sealed class EndToEndTests(PackageFeed feed)
{
    private const string Prompt = "Once upon a time";

    /// <summary>Enough text to tell two stories apart, few enough tokens for a fast test.</summary>
    private const int MinimumStoryCharacters = 40;

    [Fact]
    public void Fresh_project_builds_runs_and_tells_the_greedy_story_of_caldera_run()
    {
        var project = feed.CreateProject("story-app",
            $"""<CalderaModel Include="{TestPaths.Stories260KBin}" Name="Stories" Namespace="StoryApp" Rank="16" Tokenizer="{TestPaths.Tok512Model}" />""",
            $$"""
            using Caldera;

            using var model = StoryApp.Stories.Load();
            var greedy = new GenerationOptions { MaxOutputTokens = 64, Sampling = new SamplingOptions { Temperature = 0f } };
            foreach (string piece in model.Generate("{{Prompt}}", greedy))
                Console.Write(piece);
            Console.WriteLine();
            """);

        var build = project.Build();
        Assert.True(build.ExitCode == 0, build.ToString());
        var app = DotNet.Run(project.Directory, Path.Combine("bin", "Debug", TestProject.TargetFramework, "story-app.dll"));
        Assert.True(app.ExitCode == 0, app.ToString());

        string tool = Path.Combine(feed.Root, "packages", "caldera.build", "0.1.0", "tools", "net10.0", "caldera.dll");
        var reference = DotNet.Run(project.Directory, tool, "run", Path.Combine(project.CalderaOutput(), "Stories.cald"),
            "--prompt", Prompt, "--temperature", "0", "--steps", "128");
        Assert.True(reference.ExitCode == 0, reference.ToString());

        string story = Continuation(app);
        Assert.True(story.Length >= MinimumStoryCharacters, $"the app told too short a story: '{story}'");
        Assert.StartsWith(story, Continuation(reference));
    }

    /// <summary>The generated text after the prompt, whether or not the prompt was echoed.</summary>
    private static string Continuation(DotNet.Result result)
    {
        string text = result.Text();
        return text.StartsWith(Prompt, StringComparison.Ordinal) ? text[Prompt.Length..] : text;
    }
}
