using Caldera.Cli;

namespace Caldera.Cli.Tests;

public sealed class HelpAndVersionTests
{
    [Theory]
    [InlineData("run", "--steps <N>", "[default: 256]")]
    [InlineData("inspect", "<model>", "Print a model's format")]
    [InlineData("compress", "--rank <N>", "[default: 64]")]
    [InlineData("eval", "--ctx <N>", "[default: 256]")]
    [InlineData("describe", "--storage <resource|trailer>", "[default: resource]")]
    [InlineData("report", "-o, --output <report.html>", "self-contained HTML")]
    [InlineData("finetune", "--rank <R>", "[default: 16]")]
    public void Every_verb_explains_its_options_and_defaults(string verb, string option, string text)
    {
        foreach (string[] args in new[] { new[] { verb, "--help" }, ["help", verb], [verb, "-h"] })
        {
            var (code, stdout, stderr) = Run(args);
            Assert.True(code == 0, stderr);
            Assert.Contains($"caldera {verb} <model> [options]", stdout);
            Assert.Contains(option, stdout);
            Assert.Contains(text, stdout);
        }
    }

    [Fact]
    public void Caldera_alone_lists_every_verb()
    {
        var (code, stdout, _) = Run([]);
        Assert.Equal(0, code);
        foreach (string verb in new[] { "run", "inspect", "compress", "eval", "describe", "report" })
            Assert.Matches($@"(?m)^  {verb} <model> +\S", stdout);
    }

    [Fact]
    public void Version_prints_the_tool_version()
    {
        var (code, stdout, _) = Run(["--version"]);
        Assert.Equal(0, code);
        Assert.StartsWith(typeof(CalderaCli).Assembly.GetName().Version!.ToString(3), stdout);
    }

    [Fact]
    public void An_unknown_verb_exits_2_pointing_at_help()
    {
        var (code, stdout, stderr) = Run(["compres", "model.bin"]);
        Assert.Equal(CalderaCli.UsageOrInputError, code);
        Assert.Equal("", stdout);
        Assert.Contains("caldera: Unrecognized command or argument 'compres'", stderr);
        Assert.Contains("see 'caldera --help'", stderr);
    }

    [Fact]
    public void Docs_list_every_verb_and_option_as_help_prints_them()
    {
        // scripts/cli-help.sh rewrites docs/cli.md's generated part from the built tool.
        string docs = File.ReadAllText(Path.Combine(TestModels.RepoRoot, "docs", "cli.md"));
        foreach (string[] args in new[] { ["--help"], new[] { "run", "--help" }, ["inspect", "--help"], ["compress", "--help"], ["eval", "--help"], ["describe", "--help"], ["report", "--help"], ["finetune", "--help"], ["adapter", "--help"], ["adapter", "inspect", "--help"], ["adapter", "merge", "--help"] })
        {
            var (code, stdout, _) = Run(args);
            Assert.Equal(0, code);
            Assert.True(docs.Contains("```\n" + stdout + "```\n", StringComparison.Ordinal), $"docs/cli.md does not show `caldera {string.Join(' ', args)}` as it prints now; run scripts/cli-help.sh");
        }
    }

    private static (int Code, string Stdout, string Stderr) Run(string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CalderaCli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
