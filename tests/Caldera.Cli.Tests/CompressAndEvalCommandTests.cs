using System.Text.Json;
using Caldera.Cli;
using Caldera.Compiler.Evaluation;
using Caldera.Runtime.Compression;
using Spectre.Console;

namespace Caldera.Cli.Tests;

public sealed class CompressAndEvalCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("--rank abc", "--rank 'abc' is not an integer")]
    [InlineData("--rank -1", "--rank -1 must be at least 0")]
    [InlineData("--preset slow", "--preset 'slow' is not one of fast, paper")]
    [InlineData("--method gptq", "--method 'gptq' is not one of caldera, ldlq, rtn")]
    [InlineData("--q-bits 3", "--q-bits 3 is not available for caldera")]
    [InlineData("--method ldlq --q-bits 4", "--q-bits 4 is not available for ldlq")]
    [InlineData("--method rtn --q-bits 9", "--q-bits 9 must be in 2..8 for rtn")]
    [InlineData("--method ldlq --rank 8", "--rank applies to --method caldera only")]
    [InlineData("--lr-bits 8", "--lr-bits 8 must be 4 (lattice) or 16")]
    [InlineData("--samples -1", "--samples -1 must be at least 1")]
    [InlineData("--seq-len 1", "--seq-len 1 must be at least 2")]
    [InlineData("--seq-len 4096", "--seq-len 4096 exceeds the model's context of 512")]
    [InlineData("--threads x", "--threads 'x' is not an integer")]
    [InlineData("--bogus 1", "Unrecognized command or argument '--bogus'")]
    [InlineData("--calibration /nonexistent/calibration.txt", "calibration text file not found")]
    [InlineData("--samples 100000", "lower --samples or --seq-len")]
    public void Compress_rejects_bad_settings_with_exit_code_2(string options, string message)
    {
        var writer = new CapturingWriter();
        var (code, _, stderr) = Run(writer, ["compress", TestModels.Stories260KBin, "-o", _dir.File("m.cald"), "--tokenizer", TestModels.Tok512Model, .. options.Split(' ')]);
        Assert.Equal(2, code);
        Assert.Contains(message, stderr);
        Assert.Null(writer.Content);
    }

    [Theory]
    [InlineData("compress /nonexistent/model.bin -o x.cald", "/nonexistent/model.bin: no such file or directory")]
    [InlineData("compress model.bin", "-o <out.cald> is required")]
    [InlineData("eval /nonexistent/model.bin --text /nonexistent/t.txt", "text file not found")]
    [InlineData("eval model.bin", "--text <file> is required")]
    [InlineData("eval model.bin --text t.txt --ctx 2", "--ctx 2 must be at least 4")]
    public void Missing_files_and_options_are_reported_with_exit_code_2(string command, string message)
    {
        var (code, _, stderr) = Run(new CapturingWriter(), command.Split(' '));
        Assert.Equal(2, code);
        Assert.Contains(message, stderr);
    }

    [Fact]
    public void Compress_hands_the_content_to_the_writer_and_removes_its_cache()
    {
        var writer = new CapturingWriter();
        string output = _dir.File("stories.cald");
        var (code, stdout, stderr) = Run(writer, ["compress", TestModels.Stories260KBin, "-o", output, "--tokenizer", TestModels.Tok512Model,
            "--rank", "4", "--samples", "2", "--seq-len", "32", "--threads", "2"]);

        Assert.True(code == 0, stderr);
        Assert.Equal(output, writer.Path);
        var content = writer.Content!;
        Assert.Equal(35, content.Matrices.Count);
        Assert.Equal(("caldera", 4, 4, "fast", "built-in"), (content.Settings.Method, content.Settings.Rank, content.Settings.FactorBits, content.Settings.Preset, content.Settings.Calibration));
        Assert.Equal(TokenizerPayloadKind.SentencePieceModel, content.Tokenizer!.Kind);
        Assert.Equal(64, content.SourceSha256.Length);
        Assert.Contains("calibration: 2 sequences × 32 tokens from built-in", stderr);
        Assert.Matches(@"layer 5/5  down  error 0\.\d{4}  elapsed \d\d:\d\d  eta \d\d:\d\d", stderr);
        Assert.Contains("wrote " + output + ": 35 matrices", stdout);
        Assert.Matches(@"(?m)^  layer +q +k +v +o +gate +up +down +time *$", stderr);
        Assert.Matches(@"(?m)^  5 +(0\.\d{4} +){7}\d+\.\d s *$", stderr);
        Assert.Matches(@"(?m)^  bpw +(\d\.\d{3} +){7}$", stderr);
        Assert.DoesNotContain("\u001b", stderr);
        Assert.False(Directory.Exists(output + ".parts"));
        double bits = BitsPerWeight.Of(content, 0).LinearLayers;
        // 2-bit Q + rank-4 4-bit factors (0.5 bit on 64×64) + signs and scales, plus the fp32 43×43 fallback
        // transform block that each 172-wide side stores (5.4 bits per weight of a 172×64 matrix).
        Assert.InRange(bits, 2.5, 8);
    }

    [Fact]
    public void Compress_in_a_terminal_shows_a_live_bar_and_the_summary()
    {
        var screen = new StringWriter();
        var terminal = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.Yes, ColorSystem = ColorSystemSupport.Standard, Interactive = InteractionSupport.Yes, Out = new AnsiConsoleOutput(screen),
        });
        terminal.Profile.Width = 120;
        var stderr = new StringWriter();
        int code = CalderaCli.Run(["compress", TestModels.Stories260KBin, "-o", _dir.File("live.cald"), "--tokenizer", TestModels.Tok512Model,
            "--rank", "4", "--samples", "2", "--seq-len", "32", "--threads", "2"], new StringWriter(), stderr, new CompressedModelFormat(new CapturingWriter(), null),
            terminal: terminal);
        Assert.True(code == 0, stderr.ToString());
        string shown = screen.ToString();
        Assert.Contains("\u001b[", shown); // redrawn in place
        // The display redraws ten times a second, so it shows some of the matrices, each with the error so far.
        Assert.Matches(@"layer [1-5]/5  [a-z]+ +error 0\.\d{4} \(mean 0\.\d{4}\)  eta \d\d:\d\d", shown);
        Assert.Contains("100%", shown);
        Assert.Matches(@"bpw +(\d\.\d{3} +){7}", shown);
        // The plain lines are for logs and MSBuild only.
        Assert.DoesNotContain("layer 5/5  done", shown + stderr);
    }

    [Theory]
    [InlineData("caldera")]
    [InlineData("ldlq")]
    public void Rank_0_compresses_with_ldlq_alone(string method)
    {
        var writer = new CapturingWriter();
        var (code, _, stderr) = Run(writer, ["compress", TestModels.Stories260KBin, "-o", _dir.File("q.cald"), "--tokenizer", TestModels.Tok512Model,
            "--method", method, "--rank", "0", "--samples", "2", "--seq-len", "32", "--threads", "2"]);
        Assert.True(code == 0, stderr);
        Assert.Equal(("ldlq", 0), (writer.Content!.Settings.Method, writer.Content.Settings.Rank));
        Assert.All(writer.Content.Matrices, m => Assert.Equal(0, m.Rank));
    }

    [Fact]
    public void A_cancelled_compress_exits_130_without_writing()
    {
        var writer = new CapturingWriter();
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        var stderr = new StringWriter();
        int code = CalderaCli.Run(["compress", TestModels.Stories260KBin, "-o", _dir.File("c.cald"), "--tokenizer", TestModels.Tok512Model, "--method", "rtn"],
            new StringWriter(), stderr, new CompressedModelFormat(writer, null), cancel.Token);
        Assert.Equal(CalderaCli.Cancelled, code);
        Assert.Contains("cancelled", stderr.ToString());
        Assert.Null(writer.Content);
    }

    [Fact]
    public void Compress_takes_the_vocabulary_embedded_in_a_gguf()
    {
        var writer = new CapturingWriter();
        var (code, _, stderr) = Run(writer, ["compress", TestModels.Stories260KGguf, "-o", _dir.File("g.cald"), "--method", "rtn", "--samples", "2", "--seq-len", "16"]);
        Assert.True(code == 0, stderr);
        Assert.Equal(TokenizerPayloadKind.EmbeddedVocabulary, writer.Content!.Tokenizer!.Kind);
        var vocabulary = Caldera.Runtime.Tokenization.EmbeddedVocabularyJson.Parse(writer.Content.Tokenizer.Bytes.Span, "g.cald");
        Assert.Equal(512, vocabulary.Tokens.Length);
        Assert.Equal(1, vocabulary.BosId);
    }

    [Fact]
    public void Eval_against_the_same_weights_in_another_format_prints_zero_divergence_as_json()
    {
        string text = _dir.File("text.txt");
        File.WriteAllText(text, File.ReadAllText(TestModels.TinyStoriesText)[..3_000]);
        var (code, stdout, stderr) = Run(new CapturingWriter(), ["eval", TestModels.Stories260KGguf, "--reference", TestModels.Stories260KBin,
            "--tokenizer", TestModels.Tok512Model, "--text", text, "--ctx", "64", "--threads", "2", "--json"]);

        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        var root = json.RootElement;
        Assert.Equal(64, root.GetProperty("ctx").GetInt32());
        Assert.Equal(root.GetProperty("chunks").GetInt32() * 31, root.GetProperty("scored_tokens").GetInt32());
        Assert.Equal(0, root.GetProperty("mean_kld").GetDouble(), 9);
        Assert.Equal(1, root.GetProperty("top1_agreement").GetDouble());
        Assert.Equal(root.GetProperty("reference_perplexity").GetDouble(), root.GetProperty("perplexity").GetDouble(), 6);
        Assert.Equal(32, root.GetProperty("layer_bits_per_weight").GetDouble()); // F32 matrices
    }

    [Fact]
    public void Eval_scores_the_int8_or_the_6bit_classifier_against_the_stored_one()
    {
        string text = _dir.File("text.txt");
        File.WriteAllText(text, File.ReadAllText(TestModels.TinyStoriesText)[..1_500]);
        string[] eval = ["eval", TestModels.Stories260KBin, "--reference", TestModels.Stories260KBin, "--tokenizer", TestModels.Tok512Model,
            "--text", text, "--ctx", "64", "--threads", "2", "--json"];
        double int8 = Kld([.. eval, "--int8-classifier"]), int6 = Kld([.. eval, "--int6-classifier"]);
        Assert.InRange(int8, 1e-9, int6); // the same model as its reference: only the classifier's rounding diverges

        var (code, _, stderr) = Run(new CapturingWriter(), [.. eval, "--int8-classifier", "--int6-classifier"]);
        Assert.Equal(2, code);
        Assert.Contains("--int8-classifier and --int6-classifier exclude each other", stderr);

        static double Kld(string[] args)
        {
            var (code, stdout, stderr) = Run(new CapturingWriter(), args);
            Assert.True(code == 0, stderr);
            using var json = JsonDocument.Parse(stdout);
            return json.RootElement.GetProperty("mean_kld").GetDouble();
        }
    }

    [Fact]
    public void Eval_prints_a_readable_table()
    {
        string text = _dir.File("text.txt");
        File.WriteAllText(text, File.ReadAllText(TestModels.TinyStoriesText)[..2_000]);
        var (code, stdout, stderr) = Run(new CapturingWriter(), ["eval", TestModels.Stories260KBin, "--tokenizer", TestModels.Tok512Model, "--text", text, "--ctx", "32"]);
        Assert.True(code == 0, stderr);
        Assert.Matches(@"(?m)^perplexity +\d+\.\d{4} ± \d+\.\d{4}$", stdout);
        Assert.Matches(@"(?m)^bits/weight +32\.\d{3} bits/weight \(whole file: 8 × [\d,]+ bytes / [\d,]+ parameters\); linear layers alone 32\.000$", stdout);
        Assert.DoesNotContain("mean KLD", stdout);
    }

    private static (int Code, string Stdout, string Stderr) Run(ICompressedModelWriter writer, string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CalderaCli.Run(args, stdout, stderr, new CompressedModelFormat(writer, null));
        return (code, stdout.ToString(), stderr.ToString());
    }

    private sealed class CapturingWriter : ICompressedModelWriter
    {
        public CompressedModelContent? Content { get; private set; }
        public string? Path { get; private set; }

        public long Write(CompressedModelContent content, string path)
        {
            // The matrices are read from the compression's layer cache, which is removed once the model is written: copied now.
            (Content, Path) = (content with { Matrices = [.. content.Matrices] }, path);
            return 0;
        }
    }
}
