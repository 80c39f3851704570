using System.Text.RegularExpressions;
using Caldera.Cli;

namespace Caldera.Cli.Tests;

/// <summary><c>compress --embedding int4 --classifier caldera</c>: what <c>inspect</c> shows of it, and that <c>eval</c> runs it.</summary>
public sealed class VocabularyStorageCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_4bit_embedding_and_a_compressed_classifier_are_written_inspected_and_evaluated()
    {
        string model = _dir.File("stories.cald"), text = _dir.File("text.txt");
        File.WriteAllText(text, TestModels.TinyStoriesPrefix(1_500));
        var (code, _, error) = Run(["compress", TestModels.Stories260KBin, "--tokenizer", TestModels.Tok512Model, "-o", model,
            "--rank", "4", "--samples", "2", "--seq-len", "32", "--threads", "2", "--embedding", "int4", "--classifier", "caldera"]);
        Assert.True(code == 0, error);
        Assert.Contains("output: ", error); // the summary table (on stderr) has a row for the classifier

        var (_, inspect, _) = Run(["inspect", model]);
        Assert.Matches(new Regex(@"^  tied_classifier +no$", RegexOptions.Multiline), inspect);
        Assert.Matches(new Regex(@"^  token_embd\.weight +\[512, 64\] +Int4Blocks$", RegexOptions.Multiline), inspect);
        Assert.Matches(new Regex(@"^  output\.weight +\[512, 64\] +E8P \+ rank 4 \(4-bit\), \d\.\d{3} bpw", RegexOptions.Multiline), inspect);

        var (evalCode, eval, evalError) = Run(["eval", model, "--text", text, "--ctx", "32", "--threads", "2"]);
        Assert.True(evalCode == 0, evalError);
        Assert.Matches(new Regex(@"^perplexity +\d", RegexOptions.Multiline), eval);
    }

    [Fact]
    public void A_compressed_classifier_with_rtn_exits_2_naming_both_options()
    {
        var (code, _, error) = Run(["compress", TestModels.Stories260KBin, "--tokenizer", TestModels.Tok512Model, "-o", _dir.File("x.cald"),
            "--method", "rtn", "--classifier", "caldera"]);
        Assert.Equal(2, code);
        Assert.Contains("--classifier caldera needs --method caldera or ldlq", error);
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
