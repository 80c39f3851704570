using System.Diagnostics;
using System.Text.RegularExpressions;
using Caldera.Cli;
using Caldera.Runtime.Formats;
using Xunit.Abstractions;

namespace Caldera.Cli.Tests;

public sealed class ReportCommandTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Report_is_one_self_contained_page_with_a_plot_per_matrix()
    {
        string html = Report(CompressedStories.Path);
        using var file = CaldFile.Open(CompressedStories.Path);
        // The error and bits figures, then one spectrum per matrix.
        Assert.Equal(2 + file.Content.Matrices.Count, Regex.Matches(html, "<svg").Count);
        foreach (var m in file.Content.Matrices) Assert.Contains($"<td>{m.Name}</td>", html);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch(@"(src|href)\s*=", html);
        Assert.DoesNotContain("written without spectra", html);
    }

    [Fact]
    public void A_cald_written_without_spectra_still_reports_the_rest()
    {
        string old = _dir.File("old.cald");
        using (var file = CaldFile.Open(CompressedStories.Path))
            CaldWriter.Write(old, file.Content with { Matrices = [.. file.Content.Matrices.Select(m => m with { Spectrum = null })] });
        string html = Report(old);
        Assert.Equal(2, Regex.Matches(html, "<svg").Count);
        Assert.Contains("written without spectra", html);
    }

    [Theory]
    [InlineData("report {model}", "report: -o <report.html> is required")]
    [InlineData("report /nonexistent/m.cald -o {out}", "/nonexistent/m.cald")]
    [InlineData("report {checkpoint} -o {out}", "stories260K.bin")]
    public void Bad_input_exits_2_naming_what_is_wrong(string command, string message)
    {
        string output = _dir.File("r.html");
        string[] args = command.Replace("{model}", CompressedStories.Path).Replace("{out}", output).Replace("{checkpoint}", TestModels.Stories260KBin).Split(' ');
        var stderr = new StringWriter();
        Assert.Equal(CalderaCli.UsageOrInputError, CalderaCli.Run(args, TextWriter.Null, stderr));
        Assert.Contains(message, stderr.ToString());
        Assert.False(File.Exists(output));
    }

    /// <summary>
    /// Opens the report in headless Chromium inside a test page that measures every SVG once laid out (size, shapes,
    /// labels), checks that the browser logged nothing to the console, and saves a screenshot of the page's top, which
    /// docs/images/report.png is a copy of (artifacts/report.png under the repository root).
    /// </summary>
    [Fact]
    public void Report_renders_in_headless_chromium_with_every_plot_drawn_and_a_quiet_console()
    {
        Assert.True(Chromium.Executable is not null, "this test renders the report in Debian's chromium: install it with apt-get install chromium (.ci/run does)");
        string html = Report(CompressedStories.Path);
        int plots = Regex.Matches(html, "<svg").Count;
        string check = _dir.File("check.html");
        File.WriteAllText(check, """
            <!DOCTYPE html><html><body><iframe id="r" src="report.html" style="width:1100px;height:800px"></iframe>
            <script>
            document.getElementById('r').addEventListener('load', () => {
              const d = document.getElementById('r').contentDocument;
              const svgs = [...d.querySelectorAll('svg')];
              const drawn = svgs.filter(s => {
                const box = s.getBoundingClientRect();
                return box.width >= 200 && box.height >= 150 && s.querySelectorAll('path, rect, line, polyline').length > 5 && s.querySelectorAll('text').length > 3;
              });
              document.body.setAttribute('data-result', `svgs=${svgs.length} drawn=${drawn.length}`);
            });
            </script></body></html>
            """);

        var (dom, log) = Chromium.Run(_dir.File("profile-check"), "--allow-file-access-from-files", "--virtual-time-budget=10000", "--dump-dom", new Uri(check).AbsoluteUri);
        Assert.Contains($"data-result=\"svgs={plots} drawn={plots}\"", dom);
        var console = log.Split('\n').Where(l => l.Contains(":CONSOLE", StringComparison.Ordinal)).ToList();
        Assert.True(console.Count == 0, string.Join('\n', console));

        string screenshot = Path.Combine(TestModels.RepoRoot, "artifacts", "report.png");
        Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);
        File.Delete(screenshot);
        Chromium.Run(_dir.File("profile-shot"), "--window-size=1100,1900", "--hide-scrollbars", $"--screenshot={screenshot}", new Uri(_dir.File("report.html")).AbsoluteUri);
        byte[] png = File.ReadAllBytes(screenshot);
        Assert.True(png.Length > 20_000 && png.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10 }), $"{screenshot} is not a screenshot");
        output.WriteLine($"screenshot: {screenshot}");
    }

    private string Report(string model)
    {
        string path = _dir.File("report.html");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Assert.True(CalderaCli.Run(["report", model, "-o", path], stdout, stderr) == 0, stderr.ToString());
        Assert.Contains($"wrote {path}", stdout.ToString());
        Assert.Equal("", stderr.ToString());
        return File.ReadAllText(path);
    }
}

internal static class Chromium
{
    public static string? Executable { get; } = new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists);

    /// <summary>Runs headless Chromium with no network, sync or first-run work and a fresh profile; returns stdout and its log (stderr).</summary>
    public static (string Stdout, string Log) Run(string profile, params string[] args)
    {
        var start = new ProcessStartInfo(Executable ?? throw new InvalidOperationException("chromium is not installed"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string a in (string[])["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", $"--user-data-dir={profile}", "--enable-logging=stderr", "--log-level=0", .. args])
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("chromium did not finish in 2 minutes");
        }
        Assert.True(process.ExitCode == 0, $"chromium exited {process.ExitCode}: {stderr.Result}");
        return (stdout, stderr.Result);
    }
}
