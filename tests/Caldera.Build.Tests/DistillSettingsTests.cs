using Caldera.Build.Tasks;
using Caldera.Build.Tasks.Models;

namespace Caldera.Build.Tests;

/// <summary>
/// <c>Distill</c> metadata, in process (no package, no build): the <c>caldera finetune</c> arguments it makes, the
/// stamp lines that rebuild the model when a setting changes, the compression key that does not, and each coded error
/// for metadata that cannot work (DistillBuildTests shows the codes reach a real build's log).
/// </summary>
public class DistillSettingsTests
{
    /// <summary>The metadata an item gets from Caldera.Build.props' ItemDefinitionGroup, overridden by <paramref name="metadata"/>.</summary>
    private static ModelSettings? Parse(List<BuildDiagnostic> diagnostics, string input, params (string Name, string Value)[] metadata)
    {
        var values = new Dictionary<string, string>
        {
            ["Rank"] = "64", ["QBits"] = "2", ["LRBits"] = "4", ["Distill"] = "false",
            ["DistillSteps"] = "250", ["DistillLearningRate"] = "0.002", ["DistillRank"] = "16", ["DistillSequenceLength"] = "128",
        };
        foreach (var (name, value) in metadata) values[name] = value;
        return ModelSettingsParser.Parse(input, name => values.GetValueOrDefault(name, ""), Path.GetTempPath(), "App", diagnostics);
    }

    private static ModelSettings? Parse(List<BuildDiagnostic> diagnostics, params (string Name, string Value)[] metadata) =>
        Parse(diagnostics, TestPaths.Stories260KBin, metadata);

    private static (string, string) Calibration => ("Calibration", TestPaths.TinyStoriesText);

    [Fact]
    public void The_defaults_distil_with_the_documented_settings_toward_the_checkpoint_on_the_calibration_text()
    {
        var diagnostics = new List<BuildDiagnostic>();

        var settings = Parse(diagnostics, ("Distill", "True"), Calibration)!;

        Assert.Empty(diagnostics);
        Assert.Equal(new DistillSettings(250, 0.002f, 16, 128), settings.Distill);
        Assert.Equal(
            ["finetune", "base.cald", "--teacher", TestPaths.Stories260KBin, "--text", TestPaths.TinyStoriesText, "-o", "out.calda",
                "--steps", "250", "--lr", "0.002", "--rank", "16", "--seq-len", "128", "--quantization-aware", "--resume"],
            settings.Distill!.FineTuneArguments("base.cald", settings.InputPath, settings.CalibrationPath!, "out.calda"));
        Assert.Equal(["adapter", "merge", "base.cald", "out.calda", "-o", "out.cald"], DistillSettings.MergeArguments("base.cald", "out.calda", "out.cald"));
    }

    [Fact]
    public void Distill_off_leaves_its_settings_unchecked_and_trains_nothing()
    {
        var diagnostics = new List<BuildDiagnostic>();

        var settings = Parse(diagnostics, ("Distill", ""), ("DistillSteps", "many"))!;

        Assert.Empty(diagnostics);
        Assert.Null(settings.Distill);
    }

    [Theory]
    [InlineData("DistillSteps", "300")]
    [InlineData("DistillLearningRate", "0.0005")]
    [InlineData("DistillRank", "8")]
    [InlineData("DistillSequenceLength", "64")]
    public void Each_distill_setting_changes_the_stamp_but_not_the_compression_key(string name, string value)
    {
        var diagnostics = new List<BuildDiagnostic>();
        var defaults = Parse(diagnostics, ("Distill", "true"), Calibration)!;
        var changed = Parse(diagnostics, ("Distill", "true"), Calibration, (name, value))!;
        var undistilled = Parse(diagnostics, Calibration)!;

        Assert.Empty(diagnostics);
        Assert.NotEqual(defaults.Stamp("1.0.0", 1, publishesVariant: false), changed.Stamp("1.0.0", 1, publishesVariant: false));
        Assert.NotEqual(undistilled.Stamp("1.0.0", 1, publishesVariant: false), defaults.Stamp("1.0.0", 1, publishesVariant: false));
        Assert.Equal(defaults.CompressionKey("1.0.0"), changed.CompressionKey("1.0.0"));
        Assert.Equal(undistilled.CompressionKey("1.0.0"), defaults.CompressionKey("1.0.0"));
        Assert.NotEqual(defaults.CompressionKey("1.0.0"), Parse(diagnostics, ("Distill", "true"), Calibration, ("Rank", "32"))!.CompressionKey("1.0.0"));
        Assert.NotEqual(defaults.CompressionKey("1.0.0"), defaults.CompressionKey("1.0.1"));
    }

    [Theory]
    [InlineData("Distill", "yes", "CALD1015", "Distill=\"yes\" is not true or false; set Distill=\"true\"")]
    [InlineData("Method", "rtn", "CALD1016", "Distill=\"true\" trains the low-rank factors L·R, and Method=\"rtn\" has none; set Method=\"caldera\", or remove Distill")]
    [InlineData("DistillSteps", "0", "CALD1018", "DistillSteps=\"0\" is not available; set DistillSteps to an integer from 1 to 1000000")]
    [InlineData("DistillSteps", "ten", "CALD1018", "DistillSteps=\"ten\" is not a whole number")]
    [InlineData("DistillRank", "0", "CALD1018", "DistillRank=\"0\" is not available; set DistillRank to an integer from 1 to 4096")]
    [InlineData("DistillSequenceLength", "1", "CALD1018", "DistillSequenceLength=\"1\" is not available; set DistillSequenceLength to an integer from 2 to 131072")]
    [InlineData("DistillLearningRate", "-0.001", "CALD1018", "DistillLearningRate=\"-0.001\" is not a number above 0 and at most 1; set DistillLearningRate")]
    [InlineData("DistillLearningRate", "NaN", "CALD1018", "DistillLearningRate=\"NaN\" is not a number above 0")]
    [InlineData("DistillLearningRate", "5e-4x", "CALD1018", "DistillLearningRate=\"5e-4x\" is not a number above 0")]
    public void A_distill_setting_that_cannot_work_is_a_coded_error(string name, string value, string code, string message)
    {
        var diagnostics = new List<BuildDiagnostic>();

        Assert.Null(Parse(diagnostics, ("Distill", "true"), Calibration, (name, value)));

        var error = Assert.Single(diagnostics);
        Assert.Equal(code, error.Code);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Distill_on_a_compressed_input_is_CALD1016_as_there_is_no_checkpoint_to_distil_toward()
    {
        var diagnostics = new List<BuildDiagnostic>();
        string cald = Path.Combine(Path.GetTempPath(), $"distill-settings-{Guid.NewGuid():N}.cald");
        File.WriteAllBytes(cald, [0]);
        try
        {
            Assert.Null(Parse(diagnostics, cald, ("Distill", "true"), Calibration));
        }
        finally
        {
            File.Delete(cald);
        }

        var error = Assert.Single(diagnostics);
        Assert.Equal("CALD1016", error.Code);
        Assert.Contains("needs the full-precision checkpoint to distil toward, and this item is an already compressed .cald; set Include to the checkpoint", error.Message);
    }

    [Fact]
    public void Distill_without_calibration_text_is_CALD1017()
    {
        var diagnostics = new List<BuildDiagnostic>();

        Assert.Null(Parse(diagnostics, ("Distill", "true")));

        var error = Assert.Single(diagnostics);
        Assert.Equal("CALD1017", error.Code);
        Assert.Contains("set Calibration to a UTF-8 text sample of what the app will read, or remove Distill", error.Message);
    }
}
