using System.Diagnostics;
using Caldera.Cli;

namespace Caldera.Cli.Tests;

/// <summary>
/// <c>caldera compress --max-memory</c>: run as its own process it limits the GC heap to the cap (so a compression that
/// needed more would fail with an out-of-memory error instead of finishing) and writes the same model as an uncapped
/// run; a cap too small for one matrix fails before any layer is compressed, saying what one matrix needs.
/// </summary>
public sealed class CompressMemoryCapTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("caldera-memory-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
    }

    private static string[] Args(string output, params string[] more) =>
        ["compress", TestModels.Stories260KBin, "--tokenizer", TestModels.Tok512Model, "-o", output, "--rank", "8", "--samples", "4", "--seq-len", "64", .. more];

    [Fact]
    public void Compress_under_a_memory_cap_keeps_the_GC_heap_within_it_and_writes_the_same_model()
    {
        string uncapped = Path.Combine(_dir, "uncapped.cald");
        Assert.Equal(0, CalderaCli.Run(Args(uncapped), new StringWriter(), new StringWriter()));

        string capped = Path.Combine(_dir, "capped.cald");
        var (code, log) = RunProcess(Args(capped, "--max-memory", "128M"));

        Assert.True(code == 0, log);
        // The GC reads its limit back: the whole compression ran with its heap held under 128 MiB.
        Assert.Contains("memory: 1 matrix at a time, about", log);
        Assert.Contains("of the 128 MiB cap, GC heap limit 128 MiB", log);
        Assert.Equal(File.ReadAllBytes(uncapped), File.ReadAllBytes(capped));
    }

    [Fact]
    public void A_memory_cap_too_small_for_one_matrix_fails_fast_naming_what_it_needs()
    {
        string output = Path.Combine(_dir, "small.cald");
        var stderr = new StringWriter();

        int code = CalderaCli.Run(Args(output, "--max-memory", "1M"), new StringWriter(), stderr);

        Assert.Equal(CalderaCli.UsageOrInputError, code);
        Assert.Contains("--max-memory: a memory cap of 1 MiB is too small for this model: compressing ffn_down (64×172) needs about", stderr.ToString());
        Assert.Contains("with one matrix at a time; raise the cap to", stderr.ToString());
        Assert.DoesNotContain("layer 1/", stderr.ToString());
        Assert.False(File.Exists(output));
        Assert.False(Directory.Exists(output + ".parts"), "nothing is compressed before the cap is checked");
    }

    [Theory]
    [InlineData("lots")]
    [InlineData("8X")]
    [InlineData("0")]
    public void A_memory_size_that_is_not_one_is_a_usage_error(string size)
    {
        var stderr = new StringWriter();

        int code = CalderaCli.Run(Args(Path.Combine(_dir, "bad.cald"), "--max-memory", size), new StringWriter(), stderr);

        Assert.Equal(CalderaCli.UsageOrInputError, code);
        Assert.Contains($"--max-memory '{size}' is not a memory size: use a byte count or a number with K, M, G or T", stderr.ToString());
    }

    /// <summary>The CLI as a child process (the only way it owns the process and may limit the GC heap); exit code and all output.</summary>
    private static (int Code, string Log) RunProcess(string[] args)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "caldera.dll"));
        foreach (string a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.Result);
    }
}
