namespace Caldera.Build.Tests;

/// <summary>
/// Bad <c>&lt;CalderaModel&gt;</c> metadata fails the build of a fresh package-consuming project with the coded
/// error, naming the item and the setting, and saying what to change.
/// </summary>
[Collection(PackageFeedCollection.Name)]
public sealed class BuildErrorTests(PackageFeed feed)
{
    [Theory]
    [InlineData("rank-abc", "Rank=\"abc\"", "CALD1002", "Rank=\"abc\" is not a whole number; set Rank to an integer from 1 to 4096")]
    [InlineData("rank-zero", "Rank=\"0\"", "CALD1002", "Rank=\"0\" is not available; set Rank to an integer from 1 to 4096")]
    [InlineData("qbits-3", "QBits=\"3\"", "CALD1003", "QBits=\"3\" is not available; set QBits to 2")]
    [InlineData("lrbits-8", "LRBits=\"8\"", "CALD1004", "set LRBits to 4 or 16")]
    [InlineData("storage-disk", "Storage=\"disk\"", "CALD1005", "Storage=\"disk\" is not one of auto, resource, trailer")]
    [InlineData("namespace-space", "Namespace=\"My App\"", "CALD1009", "Namespace=\"My App\" is not a C# namespace")]
    [InlineData("name-keyword", "Name=\"class\"", "CALD1008", "Name=\"class\" is not a C# identifier")]
    [InlineData("calibration-folder", "Calibration=\"obj\"", "CALD1010", "Calibration=\"obj\" is a folder, not a file; set Calibration to a UTF-8 text sample")]
    [InlineData("tokenizer-missing", "Tokenizer=\"nope/tokenizer.model\"", "CALD1011", "Tokenizer=\"nope/tokenizer.model\" does not exist")]
    [InlineData("maxmemory-words", "MaxMemory=\"lots\"", "CALD1014", "MaxMemory=\"lots\" is not a memory size; set MaxMemory (or $(CalderaMaxMemory)) to a byte count or a number with K, M, G or T")]
    [InlineData("distill-yes", "Distill=\"yes\"", "CALD1015", "Distill=\"yes\" is not true or false; set Distill=\"true\" to distil the compressed model toward its checkpoint, or remove it")]
    [InlineData("distill-no-calibration", "Distill=\"true\"", "CALD1017", "Distill=\"true\" runs the model and its checkpoint on the calibration text, and the item has none; set Calibration")]
    [InlineData("distill-rate-word", "Distill=\"true\" Calibration=\"Program.cs\" DistillLearningRate=\"fast\"", "CALD1018", "DistillLearningRate=\"fast\" is not a number above 0")]
    public void Invalid_metadata_fails_before_compressing(string name, string metadata, string code, string message)
    {
        var project = feed.CreateProject(name, $"""<CalderaModel Include="{TestPaths.Stories260KBin}" {metadata} />""");
        System.IO.Directory.CreateDirectory(Path.Combine(project.Directory, "obj"));

        var build = project.Build();

        AssertFails(build, code, message);
        Assert.Contains($"CalderaModel '{TestPaths.Stories260KBin}'", build.Output);
        Assert.DoesNotContain("Caldera: compressing", build.Output);
    }

    [Fact]
    public void Missing_checkpoint_fails_with_CALD1001()
    {
        var project = feed.CreateProject("missing-checkpoint", """<CalderaModel Include="models/absent.bin" />""");

        var build = project.Build();

        AssertFails(build, "CALD1001", $"the checkpoint '{Path.Combine(project.Directory, "models", "absent.bin")}' does not exist; set Include to");
    }

    [Fact]
    public void Distill_on_a_compressed_model_fails_with_CALD1016()
    {
        var project = feed.CreateProject("distill-cald", """<CalderaModel Include="stories.cald" Distill="true" Calibration="Program.cs" />""");
        File.WriteAllBytes(Path.Combine(project.Directory, "stories.cald"), [0]);

        var build = project.Build();

        AssertFails(build, "CALD1016", "Distill=\"true\" needs the full-precision checkpoint to distil toward, and this item is an already compressed .cald");
    }

    [Fact]
    public void Two_models_with_one_name_fail_with_CALD1012()
    {
        var project = feed.CreateProject("duplicate-name", $"""
            <CalderaModel Include="{TestPaths.Stories260KBin}" Name="Stories" />
            <CalderaModel Include="{TestPaths.SharedModel("stories260K-gguf/tinyllamas-stories-260k-f32.gguf")}" Name="stories" />
            """);

        AssertFails(project.Build(), "CALD1012", "Name=\"stories\" is also the name of CalderaModel");
    }

    [Fact]
    public void Unsupported_architecture_is_relayed_from_the_compiler_with_CALD1020()
    {
        var project = feed.CreateProject("gpt2-architecture", """<CalderaModel Include="gpt2.gguf" Name="Gpt" />""");
        TinyGguf.Write(Path.Combine(project.Directory, "gpt2.gguf"), "gpt2");

        var build = project.Build();

        AssertFails(build, "CALD1020", "caldera compress rejected the input:");
        Assert.Contains("general.architecture", build.Output);
        Assert.Contains("'gpt2' is not supported", build.Output);
        Assert.False(File.Exists(Path.Combine(project.CalderaOutput(), "Gpt.cald")), "a failed compression must leave no .cald behind");
    }

    [Fact]
    public void A_memory_cap_too_small_for_one_matrix_is_relayed_from_the_compiler_with_CALD1020()
    {
        var project = feed.CreateProject("max-memory-small", $"""<CalderaModel Include="{TestPaths.Stories260KBin}" Tokenizer="{TestPaths.Tok512Model}" />""");

        var build = project.Build("-p:CalderaMaxMemory=1M");

        AssertFails(build, "CALD1020", "a memory cap of 1 MiB is too small for this model: compressing");
        Assert.Contains("raise the cap to", build.Output);
    }

    [Fact]
    public void Calibration_that_is_not_text_is_relayed_from_the_compiler_with_CALD1020()
    {
        var project = feed.CreateProject("binary-calibration",
            $"""<CalderaModel Include="{TestPaths.Stories260KBin}" Tokenizer="{TestPaths.Tok512Model}" Calibration="calibration.txt" />""");
        File.WriteAllBytes(Path.Combine(project.Directory, "calibration.txt"), [0x4f, 0x6e, 0xff, 0xfe, 0x00, 0xc3]);

        var build = project.Build();

        AssertFails(build, "CALD1020", "is not UTF-8 text");
        Assert.Contains("pass a UTF-8 text file to --calibration", build.Output);
    }

    private static void AssertFails(DotNet.Result build, string code, string message)
    {
        Assert.True(build.ExitCode != 0, $"the build should fail with {code}:\n{build}");
        Assert.Contains($"error {code}:", build.Output);
        Assert.Contains(message, build.Output);
    }
}
