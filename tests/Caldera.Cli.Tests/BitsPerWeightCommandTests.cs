using System.Text.Json;
using System.Text.RegularExpressions;
using Caldera.Cli;

namespace Caldera.Cli.Tests;

/// <summary><c>compress</c>, <c>inspect</c> and <c>eval</c> print one bits-per-weight figure, by one definition: 8 × file bytes / parameters.</summary>
public sealed class BitsPerWeightCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Compress_inspect_and_eval_print_the_same_whole_file_bits_per_weight()
    {
        string model = _dir.File("stories.cald"), text = _dir.File("text.txt");
        File.WriteAllText(text, TestModels.TinyStoriesPrefix(1_500));
        var compress = Run(["compress", TestModels.Stories260KBin, "--tokenizer", TestModels.Tok512Model, "-o", model,
            "--rank", "4", "--samples", "2", "--seq-len", "32", "--threads", "2"]);
        var inspect = Run(["inspect", model]);
        var evalText = Run(["eval", model, "--text", text, "--ctx", "32", "--threads", "2"]);
        var evalJson = Run(["eval", model, "--text", text, "--ctx", "32", "--threads", "2", "--json"]);

        string line = Line(compress, @"^bits/weight: (.*)$");
        Assert.Equal(line, Line(inspect, @"^bits/weight: +(.*)$"));
        Assert.Equal(line, Line(evalText, @"^bits/weight +(.*)$"));

        // The figure is the file's bytes over the parameters, nothing else: 8 × length / weights, as printed.
        long bytes = new FileInfo(model).Length;
        var match = Regex.Match(line, @"^(\d+\.\d{3}) bits/weight \(whole file: 8 × ([\d,]+) bytes / ([\d,]+) parameters\); linear layers alone (\d+\.\d{3})$");
        Assert.True(match.Success, line);
        Assert.Equal(bytes, long.Parse(match.Groups[2].Value.Replace(",", "")));
        long parameters = long.Parse(match.Groups[3].Value.Replace(",", ""));
        Assert.Equal((8.0 * bytes / parameters).ToString("F3", System.Globalization.CultureInfo.InvariantCulture), match.Groups[1].Value);

        using var json = JsonDocument.Parse(evalJson);
        Assert.Equal(8.0 * bytes / parameters, json.RootElement.GetProperty("file_bits_per_weight").GetDouble());
        Assert.Equal(bytes, json.RootElement.GetProperty("file_bytes").GetInt64());
        Assert.Equal(match.Groups[4].Value, json.RootElement.GetProperty("layer_bits_per_weight").GetDouble().ToString("F3", System.Globalization.CultureInfo.InvariantCulture));
    }

    private static string Line(string output, string pattern) =>
        Regex.Match(output, pattern, RegexOptions.Multiline) is { Success: true } m ? m.Groups[1].Value.TrimEnd() : throw new Xunit.Sdk.XunitException($"no line {pattern} in:\n{output}");

    private static string Run(string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CalderaCli.Run(args, stdout, stderr);
        Assert.True(code == 0, stderr.ToString());
        return stdout.ToString();
    }
}
