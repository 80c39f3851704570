namespace Caldera.Build.Tests;

/// <summary>
/// Ctrl+C during a build that is compressing: the build stops promptly as cancelled, the compiler process is gone,
/// and no half-written model takes the place of the output (the next build compresses again, resuming its layers;
/// `dotnet clean` removes those layers).
/// </summary>
[Collection(PackageFeedCollection.Name)]
public sealed class CancellationTests(PackageFeed feed)
{
    /// <summary>
    /// From Ctrl+C to the build's exit: the compressor checks for cancellation between matrices (a fraction of a second
    /// each for stories260K), then MSBuild winds down; on a loaded two-core machine that is seconds, far from the four
    /// paper-preset layers still to do when the interrupt is sent.
    /// </summary>
    private static readonly TimeSpan PromptStop = TimeSpan.FromSeconds(20);

    [Fact]
    public void CtrlC_while_compressing_stops_the_build_and_the_compiler_and_leaves_no_model()
    {
        if (!OperatingSystem.IsLinux()) Assert.Fail("this test sends SIGINT with kill(1) and reads /proc; run it on Linux");
        var project = feed.CreateProject("cancel-app",
            $"""<CalderaModel Include="{TestPaths.Stories260KBin}" Name="Stories" Rank="32" Preset="paper" Tokenizer="{TestPaths.Tok512Model}" />""");
        // Restore first, so that the interrupt lands in the compression and not in a package download.
        var restore = DotNet.Run(project.Directory, "restore");
        Assert.True(restore.ExitCode == 0, restore.ToString());

        // The interrupt goes out when the first layer's progress line appears: compression is under way, with four layers to go.
        var build = DotNet.ExecInterrupted("dotnet", project.Directory, "layer 1/5  done", "build", "-nodeReuse:false", "--no-restore", "-v:n");
        Assert.True(build.StopAfterInterrupt is not null, $"the build never reported its first layer:\n{build}");
        var afterInterrupt = build.StopAfterInterrupt.Value;

        Assert.True(build.ExitCode != 0, build.ToString());
        Assert.Contains("Caldera: cancelled", build.Output);
        Assert.DoesNotContain("layer 5/5  done", build.Output);
        Assert.True(afterInterrupt < PromptStop, $"the build took {afterInterrupt} after Ctrl+C to stop:\n{build}");
        Assert.False(File.Exists(Path.Combine(project.CalderaOutput(), "Stories.cald")), "a cancelled compression left a model in place");
        Assert.Empty(CompilerProcessesIn(project.Directory));

        // Finished layers (if any finished) wait in the output folder for the next build; `dotnet clean` removes them too.
        Assert.True(Directory.Exists(project.CalderaOutput()));
        var clean = DotNet.Run(project.Directory, "clean", "-nodeReuse:false");
        Assert.True(clean.ExitCode == 0, clean.ToString());
        Assert.False(Directory.Exists(project.CalderaOutput()), "dotnet clean left the Caldera output folder");
    }

    /// <summary>Running processes whose command line names a path in <paramref name="directory"/> and runs caldera.</summary>
    internal static List<string> CompilerProcessesIn(string directory)
    {
        var found = new List<string>();
        foreach (string proc in Directory.GetDirectories("/proc"))
        {
            string commandLine;
            try { commandLine = File.ReadAllText(Path.Combine(proc, "cmdline")).Replace('\0', ' '); }
            catch (IOException) { continue; }
            catch (UnauthorizedAccessException) { continue; }
            if (commandLine.Contains("caldera.dll", StringComparison.Ordinal) && commandLine.Contains(directory, StringComparison.Ordinal))
                found.Add(commandLine);
        }
        return found;
    }
}
