using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Caldera.Cli;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tests.Compression;
using Caldera.Runtime.Tests.Formats;

namespace Caldera.Cli.Tests;

/// <summary>
/// Inputs and output paths a hostile or careless user gives: each exits 2 with a message naming the file or setting
/// (never 1, the code of a bug), and no verb overwrites its own input.
/// </summary>
public sealed class BadInputAndOutputTests : IDisposable
{
    private static readonly string Llama2Bin = TestModels.Shared("llama2-tokenizer/tokenizer.bin");
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string, string> ForeignTokenizers() => new()
    {
        { "run", TestModels.Llama2TokenizerModel }, { "run", Llama2Bin }, { "run", TestModels.Llama3TokenizerJson },
        { "eval", TestModels.Llama2TokenizerModel }, { "eval", Llama2Bin }, { "eval", TestModels.Llama3TokenizerJson },
        { "compress", TestModels.Llama2TokenizerModel }, { "compress", Llama2Bin }, { "compress", TestModels.Llama3TokenizerJson },
    };

    [Theory]
    [MemberData(nameof(ForeignTokenizers))]
    public void A_tokenizer_larger_than_the_model_vocabulary_exits_2_naming_both(string verb, string tokenizer)
    {
        string[] args = verb switch
        {
            "run" => ["run", TestModels.Stories260KBin, "--tokenizer", tokenizer, "--prompt", "Once upon a time", "--steps", "5"],
            "eval" => ["eval", TestModels.Stories260KBin, "--tokenizer", tokenizer, "--text", TestModels.TinyStoriesText, "--ctx", "16"],
            _ => ["compress", TestModels.Stories260KBin, "--tokenizer", tokenizer, "-o", _dir.File("m.cald"), "--samples", "1", "--seq-len", "8"],
        };
        var (code, _, stderr) = Cli(args);
        Assert.Equal(2, code);
        Assert.Contains(tokenizer, stderr);
        Assert.Contains($"but the model {TestModels.Stories260KBin} has a vocabulary of 512", stderr);
        Assert.DoesNotContain("calibration:", stderr);
    }

    [Fact]
    public void Run_on_a_cald_without_a_tokenizer_exits_2_asking_for_one()
    {
        var manifest = JsonNode.Parse(CaldFiles.Manifest(CompressedStories.Bytes))!.AsObject();
        manifest["tokenizer"] = null;
        string path = _dir.File("no-tokenizer.cald");
        File.WriteAllBytes(path, CaldFiles.WithManifest(CompressedStories.Bytes, manifest.ToJsonString()));

        var (code, _, stderr) = Cli("run", path, "--prompt", "Once upon a time", "--steps", "5");
        Assert.Equal(2, code);
        Assert.Contains($"{path}: carries no tokenizer", stderr);
        Assert.Contains("pass --tokenizer <file>", stderr);
        Assert.Equal(0, Cli("run", path, "--prompt", "Once upon a time", "--steps", "5", "--tokenizer", TestModels.Tok512Model).Code);
    }

    [Theory]
    [InlineData("inspect")]
    [InlineData("run")]
    [InlineData("eval")]
    public void A_cald_manifest_with_invalid_utf8_and_a_valid_checksum_exits_2(string verb)
    {
        byte[] bytes = CompressedStories.Bytes;
        long offset = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(CaldLayout.ManifestOffsetOffset));
        int at = (int)offset + bytes.AsSpan((int)offset).IndexOf("\"tool_version\":\""u8) + "\"tool_version\":\"".Length;
        bytes[at] = 0xFF; // inside a string, where the JSON parser does not look
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(CaldLayout.ChecksumOffset), CaldLayout.Checksum(bytes));
        string path = _dir.File("bad-utf8.cald");
        File.WriteAllBytes(path, bytes);

        var (code, _, stderr) = verb switch
        {
            "inspect" => Cli("inspect", path),
            "run" => Cli("run", path, "--prompt", "Once", "--steps", "4"),
            _ => Cli("eval", path, "--text", TestModels.TinyStoriesText, "--ctx", "16"),
        };
        Assert.Equal(2, code);
        Assert.Contains($"{path}: the manifest is not valid UTF-8 (first bad byte at offset {at - offset})", stderr);
    }

    [Theory]
    [InlineData(1, "inspect")]
    [InlineData(1, "run")]
    [InlineData(1, "compress")]
    [InlineData(3, "inspect")]
    [InlineData(3, "run")]
    [InlineData(3, "compress")]
    public void A_gguf_with_a_nan_token_score_exits_2_naming_the_entry(int version, string verb)
    {
        string path = _dir.File($"nan-score-v{version}.gguf");
        using (var source = ModelCheckpoint.Open(TestModels.Stories260KGguf))
        {
            var vocabulary = source.Vocabulary!;
            float[] scores = [.. vocabulary.Scores!];
            scores[300] = float.NaN;
            GgufWriter.FromCheckpoint(source, version)
                .Set("tokenizer.ggml.model", GgufValueType.String, "llama")
                .Set("tokenizer.ggml.tokens", GgufValueType.Array, new GgufArray(GgufValueType.String, vocabulary.Tokens))
                .Set("tokenizer.ggml.scores", GgufValueType.Array, new GgufArray(GgufValueType.Float32, scores))
                .Write(path);
        }
        var (code, _, stderr) = verb switch
        {
            "inspect" => Cli("inspect", path),
            "run" => Cli("run", path, "--prompt", "Once", "--steps", "4"),
            _ => Cli("compress", path, "-o", _dir.File("out.cald"), "--samples", "1", "--seq-len", "8"),
        };
        Assert.Equal(2, code);
        Assert.Contains($"{path}: setting 'tokenizer.ggml.scores': entry 300 is NaN; scores must be finite numbers", stderr);
    }

    [Theory]
    [InlineData("blk.1.ffn_norm.weight", 0f, "blk.1.ffn_gate.weight': the calibration inputs that reach it are all zero")]
    [InlineData("blk.0.attn_norm.weight", 3e38f, "blk.0.attn_q.weight': the calibration inputs that reach it are not finite")]
    [InlineData("blk.2.ffn_down.weight", float.NaN, "blk.2.ffn_down.weight': element 0 is NaN; the weights are corrupt")]
    public void Compressing_a_checkpoint_with_zero_or_non_finite_weights_exits_2_naming_the_tensor(string tensor, float value, string message)
    {
        string path = _dir.File("broken.gguf");
        using (var source = ModelCheckpoint.Open(TestModels.Stories260KBin))
        {
            var writer = GgufWriter.FromCheckpoint(source);
            var entry = writer.Tensor(tensor);
            int count = tensor.Contains("norm", StringComparison.Ordinal) ? entry.Data.Length / 4 : 1;
            for (int i = 0; i < count; i++) BinaryPrimitives.WriteSingleLittleEndian(entry.Data.AsSpan(4 * i), value);
            writer.Write(path);
        }
        var (code, _, stderr) = Cli("compress", path, "--tokenizer", TestModels.Tok512Model, "-o", _dir.File("out.cald"),
            "--samples", "2", "--seq-len", "16", "--rank", "4");
        Assert.Equal(2, code);
        Assert.True(stderr.Contains($"{path}: tensor '{message}", StringComparison.Ordinal), stderr);
    }

    [Fact]
    public void Run_on_weights_that_overflow_float32_exits_2_naming_the_model()
    {
        string path = _dir.File("overflow.gguf");
        using (var source = ModelCheckpoint.Open(TestModels.Stories260KBin))
        {
            var writer = GgufWriter.FromCheckpoint(source);
            var norm = writer.Tensor("output_norm.weight");
            for (int i = 0; i < norm.Data.Length; i += 4) BinaryPrimitives.WriteSingleLittleEndian(norm.Data.AsSpan(i), 3e38f);
            writer.Write(path);
        }
        var (code, _, stderr) = Cli("run", path, "--tokenizer", TestModels.Tok512Model, "--prompt", "Once", "--steps", "4", "--temperature", "0.8");
        Assert.Equal(2, code);
        Assert.True(stderr.Contains($"{path}: the logits at position 2 are NaN or infinite", StringComparison.Ordinal), stderr);
    }

    [Theory]
    [InlineData("/proc/nope.cald", "cannot create files in /proc")]
    [InlineData("", "-o is empty")]
    [InlineData("<dir>", "is a directory")]
    public void An_unwritable_output_exits_2_before_any_work(string output, string message)
    {
        if (output == "<dir>") output = _dir.Path;
        var (code, _, stderr) = Cli("compress", TestModels.Stories260KBin, "--tokenizer", TestModels.Tok512Model, "-o", output);
        Assert.Equal(2, code);
        Assert.Contains(message, stderr);
        Assert.DoesNotContain("calibration:", stderr); // refused before calibrating, not after the whole compression
        Assert.DoesNotContain("bug", stderr);
    }

    [Fact]
    public void Describe_to_an_unwritable_output_exits_2_naming_it()
    {
        var (code, _, stderr) = Cli("describe", CompressedStories.Path, "--name", "Stories", "--namespace", "App", "-o", "/proc/nope.model.json");
        Assert.Equal(2, code);
        Assert.Contains("/proc/nope.model.json: cannot create files in /proc", stderr);
    }

    [Fact]
    public void A_full_disk_when_writing_the_model_exits_2_and_keeps_the_finished_layers()
    {
        string output = _dir.File("m.cald");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CalderaCli.Run(["compress", TestModels.Stories260KBin, "--tokenizer", TestModels.Tok512Model, "-o", output,
            "--rank", "8", "--samples", "2", "--seq-len", "16", "--threads", "2"], stdout, stderr, new CompressedModelFormat(new FullDisk(), null));
        Assert.Equal(2, code);
        Assert.Contains($"{output}: cannot write (No space left on device)", stderr.ToString());
        Assert.Contains($"the finished layers stay in {output}.parts", stderr.ToString());
        Assert.Equal(5, Directory.GetFiles(output + ".parts", "layer-*.part").Length); // stories260K has 5 blocks
    }

    [Fact]
    public void A_resume_folder_that_cannot_be_written_exits_2_naming_it()
    {
        string output = _dir.File("m.cald");
        File.WriteAllText(output + ".parts", "a file where the resume folder goes");
        var (code, _, stderr) = Cli("compress", TestModels.Stories260KBin, "--tokenizer", TestModels.Tok512Model, "-o", output,
            "--rank", "8", "--samples", "2", "--seq-len", "16");
        Assert.Equal(2, code);
        Assert.Contains($"{output}.parts: cannot write (", stderr);
    }

    [Theory]
    [InlineData("same path")]
    [InlineData("symbolic link")]
    [InlineData("hard link")]
    public void An_output_that_is_the_input_is_refused_and_the_input_kept(string how)
    {
        string input = _dir.File("in.bin");
        File.Copy(TestModels.Stories260KBin, input);
        byte[] before = SHA256.HashData(File.ReadAllBytes(input));
        string output = how switch
        {
            "same path" => Path.Combine(_dir.Path, ".", "in.bin"),
            "symbolic link" => File.CreateSymbolicLink(_dir.File("link.bin"), input).FullName,
            _ => HardLink(input, _dir.File("hard.bin")),
        };
        var (code, _, stderr) = Cli("compress", input, "--tokenizer", TestModels.Tok512Model, "-o", output, "--samples", "1", "--seq-len", "8");
        Assert.Equal(2, code);
        Assert.Contains($"is the input {input}; writing it would destroy the input", stderr);
        Assert.Equal(before, SHA256.HashData(File.ReadAllBytes(input)));
    }

    [Fact]
    public void Describe_refuses_to_overwrite_its_model()
    {
        string model = _dir.File("m.cald");
        File.Copy(CompressedStories.Path, model);
        var (code, _, stderr) = Cli("describe", model, "--name", "Stories", "--namespace", "App", "-o", model);
        Assert.Equal(2, code);
        Assert.Contains("writing it would destroy the input", stderr);
        Assert.True(CaldFile.HasMagic(model));
    }

    [Fact]
    public void An_empty_tokenizer_file_and_a_tokenizer_directory_say_what_they_are()
    {
        string empty = _dir.File("empty.model");
        File.WriteAllBytes(empty, []);
        var (code, _, stderr) = Cli("run", TestModels.Stories260KBin, "--tokenizer", empty, "--prompt", "Once", "--steps", "4");
        Assert.Equal(2, code);
        Assert.Contains($"{empty}: the tokenizer file is empty", stderr);
        Assert.DoesNotContain("NullReferenceException", stderr);

        (code, _, stderr) = Cli("run", TestModels.Stories260KBin, "--tokenizer", _dir.Path, "--prompt", "Once", "--steps", "4");
        Assert.Equal(2, code);
        Assert.Contains($"{_dir.Path}: is a directory; pass the tokenizer file inside it", stderr);
    }

    private static string HardLink(string target, string link)
    {
        var process = System.Diagnostics.Process.Start("ln", [target, link]);
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
        return link;
    }

    private static (int Code, string Stdout, string Stderr) Cli(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CalderaCli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>A writer on a full disk: what a FileStream throws when the device has no space left.</summary>
    private sealed class FullDisk : ICompressedModelWriter
    {
        public long Write(CompressedModelContent content, string path) => throw new IOException("No space left on device");
    }
}
