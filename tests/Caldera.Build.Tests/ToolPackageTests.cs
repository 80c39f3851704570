namespace Caldera.Build.Tests;

/// <summary>The third package: <c>caldera</c> installs from the packed feed as a dotnet tool and compresses a model.</summary>
[Collection(PackageFeedCollection.Name)]
public sealed class ToolPackageTests(PackageFeed feed)
{
    [Fact]
    public void Caldera_tool_installs_from_the_feed_and_compresses_a_model()
    {
        string toolPath = Path.Combine(feed.Root, "tool");
        var install = DotNet.Run(feed.Root, "tool", "install", "Caldera.Cli", "--version", "0.1.0", "--tool-path", toolPath);
        Assert.True(install.ExitCode == 0, install.ToString());
        string caldera = Path.Combine(toolPath, OperatingSystem.IsWindows() ? "caldera.exe" : "caldera");

        var version = DotNet.Exec(caldera, feed.Root, "--version");
        Assert.True(version.ExitCode == 0, version.ToString());
        Assert.Contains("0.1.0", version.Output);

        string cald = Path.Combine(feed.Root, "tool-stories.cald");
        var compress = DotNet.Exec(caldera, feed.Root, "compress", TestPaths.Stories260KBin, "--tokenizer", TestPaths.Tok512Model, "--rank", "8", "-o", cald);
        Assert.True(compress.ExitCode == 0, compress.ToString());
        var inspect = DotNet.Exec(caldera, feed.Root, "inspect", cald);
        Assert.True(inspect.ExitCode == 0, inspect.ToString());
        Assert.Contains("blk.4.ffn_down.weight", inspect.Output);
    }
}
