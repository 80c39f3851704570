using Caldera.Build.Tasks;
using Caldera.Build.Tasks.Models;

namespace Caldera.Build.Tests;

/// <summary>
/// <c>MaxMemory</c> metadata, in process (no package, no build): passed to <c>caldera compress</c> as <c>--max-memory</c>,
/// refused with CALD1014 when it is not a size, and left out of the parameter stamp, since it never changes the model.
/// </summary>
public class MaxMemorySettingsTests
{
    /// <summary>The metadata an item gets from Caldera.Build.props' ItemDefinitionGroup, with <paramref name="maxMemory"/>.</summary>
    private static ModelSettings? Parse(string maxMemory, List<BuildDiagnostic> diagnostics) =>
        ModelSettingsParser.Parse(TestPaths.Stories260KBin, name => name switch
        {
            "Rank" => "64",
            "QBits" => "2",
            "LRBits" => "4",
            "MaxMemory" => maxMemory,
            _ => "",
        }, Path.GetTempPath(), "App", diagnostics);

    [Fact]
    public void A_cap_is_passed_to_compress_and_left_out_of_the_stamp()
    {
        var diagnostics = new List<BuildDiagnostic>();
        var capped = Parse("8G", diagnostics)!;
        var uncapped = Parse("", diagnostics)!;

        Assert.Empty(diagnostics);
        Assert.Equal(["--max-memory", "8G"], capped.CompressArguments("out.cald")[^2..]);
        Assert.DoesNotContain("--max-memory", uncapped.CompressArguments("out.cald"));
        Assert.Equal(uncapped.Stamp("1.0.0", 1, publishesVariant: false), capped.Stamp("1.0.0", 1, publishesVariant: false));
    }

    [Fact]
    public void A_cap_that_is_not_a_size_is_CALD1014()
    {
        var diagnostics = new List<BuildDiagnostic>();

        Assert.Null(Parse("lots", diagnostics));

        var error = Assert.Single(diagnostics);
        Assert.Equal("CALD1014", error.Code);
        Assert.Contains("MaxMemory=\"lots\" is not a memory size; set MaxMemory (or $(CalderaMaxMemory)) to a byte count or a number with K, M, G or T", error.Message);
    }
}
