using System.Globalization;
using System.Text.RegularExpressions;
using Caldera.Cli;

namespace Caldera.Cli.Tests;

/// <summary><c>compress --bits</c>: each matrix's rank from a bits-per-weight budget, shown by <c>inspect</c>.</summary>
public sealed class BitsBudgetCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_budget_keeps_the_layers_within_it_and_inspect_shows_each_matrix_rank()
    {
        string model = _dir.File("stories.cald");
        var (code, compress, error) = Run(["compress", TestModels.Stories260KBin, "--tokenizer", TestModels.Tok512Model, "-o", model,
            "--bits", "3.2", "--samples", "2", "--seq-len", "32", "--threads", "2"]);
        Assert.True(code == 0, error);
        var layers = Regex.Match(compress, @"linear layers alone (\d+\.\d+)");
        Assert.True(double.Parse(layers.Groups[1].Value, CultureInfo.InvariantCulture) <= 3.2, compress);

        var (_, inspect, _) = Run(["inspect", model]);
        var header = Regex.Match(inspect, @"^compression: +caldera, ranks (\d+)–(\d+) by matrix,", RegexOptions.Multiline);
        Assert.True(header.Success, inspect);
        // One line per compressed matrix with its rank; the header's range is theirs.
        int[] ranks = [.. Regex.Matches(inspect, @"^  blk\.\d+\.\w+\.weight +\[\d+, \d+\] +E8P \+ rank (\d+) ", RegexOptions.Multiline)
            .Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))];
        Assert.Equal(5 * 7, ranks.Length);
        Assert.Equal(int.Parse(header.Groups[1].Value, CultureInfo.InvariantCulture), ranks.Min());
        Assert.Equal(int.Parse(header.Groups[2].Value, CultureInfo.InvariantCulture), ranks.Max());
    }

    [Theory]
    [InlineData("--rank 8 --bits 3", "give --rank or --bits, not both")]
    [InlineData("--bits 1.5", "--bits 1.5 is below what Q and one rank cost for this model's 64×64 matrices")]
    [InlineData("--method ldlq --bits 3", "--bits chooses the ranks of --method caldera's factors; ldlq has none")]
    [InlineData("--bits 0", "--bits 0 must be positive")]
    public void A_budget_that_cannot_apply_exits_2_saying_why(string options, string message)
    {
        var (code, _, error) = Run(["compress", TestModels.Stories260KBin, "--tokenizer", TestModels.Tok512Model, "-o", _dir.File("x.cald"),
            .. options.Split(' ')]);
        Assert.Equal(2, code);
        Assert.Contains(message, error);
        Assert.False(File.Exists(_dir.File("x.cald")));
    }

    private static (int Code, string Out, string Error) Run(string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CalderaCli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
