using System.Diagnostics;
using Caldera.Cli;

namespace Caldera.Cli.Tests;

/// <summary>
/// `caldera compress` killed mid-run (a real process, SIGKILL, no chance to clean up) resumes from the layers it
/// finished: the rerun compresses only the rest and writes the same bytes as a run that was never interrupted.
/// </summary>
public sealed class CompressKillResumeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("caldera-kill-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
    }

    [Fact]
    public void Killed_compress_resumes_without_redoing_finished_layers_and_gives_the_same_file()
    {
        string calibration = Path.Combine(_dir, "calibration.txt");
        File.WriteAllText(calibration, File.ReadAllText(TestModels.TinyStoriesText)[..60_000]);
        string[] Args(string output) =>
        [
            "compress", TestModels.Stories260KBin, "--tokenizer", TestModels.Tok512Model, "-o", output,
            // The paper preset gives each of the 5 layers hundreds of matrix solves: a kill sent on one layer's progress
            // line lands long before the next layer is done, however fast the machine.
            "--rank", "4", "--preset", "paper", "--calibration", calibration, "--samples", "8", "--seq-len", "64",
        ];

        string uninterrupted = Path.Combine(_dir, "uninterrupted.cald");
        Assert.Equal(0, CalderaCli.Run(Args(uninterrupted), new StringWriter(), new StringWriter()));

        string output = Path.Combine(_dir, "killed.cald");
        string parts = output + ".parts";
        int finished = KillAfterFirstLayer(Args(output), parts);
        Assert.False(File.Exists(output), "the killed run must not have written its output");
        Assert.InRange(finished, 1, 4);

        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Assert.Equal(0, CalderaCli.Run(Args(output), stdout, stderr));
        string log = stdout.ToString() + stderr.ToString();
        Assert.Equal(finished, Count(log, "from cache"));
        Assert.Equal(5 - finished, Count(log, "  done  "));
        Assert.Equal(File.ReadAllBytes(uninterrupted), File.ReadAllBytes(output));
        Assert.False(Directory.Exists(parts), "the cache is removed once the output is written");
    }

    /// <summary>
    /// Runs the CLI as a child process and kills it the moment it reports its first finished layer (the progress line
    /// is written once the layer is in the cache); returns how many layers are cached.
    /// </summary>
    private static int KillAfterFirstLayer(string[] args, string parts)
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "caldera.dll");
        var start = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(cli);
        foreach (string a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        using var firstLayer = new ManualResetEventSlim();
        var output = new System.Text.StringBuilder();
        DataReceivedEventHandler onLine = (_, e) =>
        {
            if (e.Data == null) return;
            lock (output) output.AppendLine(e.Data);
            if (e.Data.Contains("layer 1/5  done", StringComparison.Ordinal))
            {
                process.Kill(entireProcessTree: true);
                firstLayer.Set();
            }
        };
        process.OutputDataReceived += onLine;
        process.ErrorDataReceived += onLine;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        // Only a hang stops this wait: the process either reports its first layer or exits.
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(10)), "compress neither finished nor reported a layer in 10 minutes");
        process.WaitForExit();
        lock (output) Assert.True(firstLayer.IsSet, $"compress exited before reporting its first layer:\n{output}");
        return CachedLayers(parts);
    }

    private static int CachedLayers(string parts) =>
        Directory.Exists(parts) ? Directory.GetFiles(parts, "layer-*.part").Length : 0;

    private static int Count(string text, string what)
    {
        int count = 0;
        for (int i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal)) count++;
        return count;
    }
}
