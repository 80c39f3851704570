using System.Globalization;
using Caldera.Cli;
using Caldera.Runtime.Model;

namespace Caldera.Cli.Tests;

public sealed class InspectCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Inspect_prints_format_config_every_tensor_parameter_count_and_vocabulary()
    {
        var (code, stdout, stderr) = Run("inspect", TestModels.TinyStories256dGguf);

        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        using var model = ModelCheckpoint.Open(TestModels.TinyStories256dGguf);
        Assert.Contains("format:       gguf v3", stdout);
        foreach (var (name, value) in new[] { ("dim", "256"), ("hidden_dim", "768"), ("layers", "6"), ("heads", "4"), ("kv_heads", "4"),
                     ("head_dim", "64"), ("vocab_size", "512"), ("context_length", "256"), ("norm_epsilon", "1E-05"), ("rope_theta", "10000"),
                     ("rope_scaling", "none"), ("tied_classifier", "no") })
            Assert.Matches($@"(?m)^  {name} +{value}", stdout);
        Assert.Contains("tensors:      57", stdout);
        foreach (var t in model.Tensors.Values)
            Assert.Matches($@"(?m)^  {t.Name.Replace(".", @"\.")} +\[{string.Join(", ", t.Shape)}\] +F32$", stdout);
        Assert.Contains("parameters:   5,377,280", stdout);
        Assert.Contains("vocabulary:   512 tokens embedded (tokenizer model 'llama', bos 1, eos 2)", stdout);
        // The architecture's order: the embedding first, blocks in numeric order.
        Assert.True(stdout.IndexOf("token_embd.weight", StringComparison.Ordinal) < stdout.IndexOf("blk.0.attn_q", StringComparison.Ordinal));
        Assert.True(stdout.IndexOf("blk.2.attn_q", StringComparison.Ordinal) < stdout.IndexOf("blk.5.attn_q", StringComparison.Ordinal));
    }

    [Fact]
    public void Inspect_describes_a_sharded_hugging_face_directory()
    {
        using (var source = ModelCheckpoint.Open(TestModels.Stories260KBin))
            HfCheckpointWriter.Write(source, _dir.Path, TensorType.BF16, shards: 2);
        var (code, stdout, _) = Run("inspect", _dir.Path);

        Assert.Equal(0, code);
        Assert.Contains("format:       safetensors (2 shards)", stdout);
        Assert.Matches(@"(?m)^  rope_pairing +rotate-half", stdout);
        Assert.Matches(@"(?m)^  tied_classifier +yes", stdout);
        Assert.Matches(@"(?m)^  blk\.4\.attn_k\.weight +\[32, 64\] +BF16$", stdout);
        Assert.Contains($"parameters:   {(264_128 - 4096).ToString("N0", CultureInfo.InvariantCulture)}", stdout);
        Assert.Contains("vocabulary:   none embedded", stdout);
    }

    [Fact]
    public void Inspect_on_a_corrupt_file_exits_2_with_the_message_on_stderr()
    {
        string path = _dir.File("truncated.gguf");
        File.WriteAllBytes(path, File.ReadAllBytes(TestModels.TinyStories256dGguf)[..20_000]);
        var (code, stdout, stderr) = Run("inspect", path);

        Assert.Equal(CalderaCli.UsageOrInputError, code);
        Assert.Equal("", stdout);
        Assert.StartsWith($"caldera: {path}: tensor '", stderr);
        Assert.Contains("truncated", stderr);
    }

    [Theory]
    [InlineData("caldera: inspect: Required argument 'model' missing")]
    [InlineData("caldera: inspect: Unrecognized command or argument 'b'", "a", "b")]
    public void Inspect_without_exactly_one_model_is_a_usage_error(string message, params string[] args)
    {
        var (code, _, stderr) = Run(["inspect", .. args]);
        Assert.Equal(CalderaCli.UsageOrInputError, code);
        Assert.StartsWith(message, stderr);
        Assert.Contains("see 'caldera inspect --help'", stderr);
    }

    private static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CalderaCli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
