using System.Text.Json;
using Caldera.Cli;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Tests.Inference;

/// <summary>
/// Llama 3.1+ RoPE scaling as people's files carry it: a GGUF's <c>rope_freqs.weight</c> and a Hugging Face
/// config's <c>rope_scaling</c> (llama3), on a tiny random model whose logits scripts/make-llama31-rope-fixture.py
/// computed with numpy in float64, from transformers' and llama.cpp's formulas and no Caldera code.
/// </summary>
public sealed class Llama31RopeTests : IDisposable
{
    /// <summary>Our float32 forward pass against a float64 one: logits of size ≈3 agree to a few 1e-6; 1e-4 leaves room for summation order.</summary>
    private const float LogitTolerance = 1e-4f;

    private static readonly string Fixture = Path.Combine(TestModels.RepoRoot, "tests", "Caldera.Runtime.Tests", "Fixtures", "llama31-rope");
    private static readonly string Gguf = Path.Combine(Fixture, "llama31-rope.gguf");
    private static readonly string HuggingFace = Path.Combine(Fixture, "hf");

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void A_gguf_with_rope_freqs_gives_the_reference_logits()
    {
        using var model = ModelCheckpoint.Open(Gguf);
        Assert.Equal(4, model.Config.RopeFrequencyFactors!.Count);
        Assert.DoesNotContain(model.Tensors.Keys, name => name.StartsWith("rope_freqs", StringComparison.Ordinal));
        AssertReference(model);
    }

    [Fact]
    public void A_hugging_face_config_with_llama3_rope_scaling_gives_the_reference_logits()
    {
        using var model = ModelCheckpoint.Open(HuggingFace);
        Assert.NotNull(model.Config.RopeScaling);
        AssertReference(model);
    }

    [Fact]
    public void Without_the_factors_the_same_weights_miss_the_reference()
    {
        // The factors change pairs 1 to 3 of every head, so the reference tells a model that ignores them.
        using var source = ModelCheckpoint.Open(Gguf);
        using var unscaled = CheckpointVariants.Rebuild(source, source.Config with { RopeFrequencyFactors = null });
        var (tokens, expected) = Reference();
        float[] actual = Logits(unscaled, tokens);
        Assert.True(MaxDifference(expected, actual) > 100 * LogitTolerance);
    }

    [Fact]
    public void A_compressed_model_keeps_the_factors_and_inspect_shows_them()
    {
        string cald = _temp.File("rope.cald");
        var log = new StringWriter();
        Assert.True(CalderaCli.Run(["compress", Gguf, "-o", cald, "--tokenizer", TestModels.Tok512Model, "--method", "rtn", "--q-bits", "8",
            "--samples", "2", "--seq-len", "16", "--threads", "2"], log, log) == 0, log.ToString());
        using var source = ModelCheckpoint.Open(Gguf);
        using var compressed = CaldFile.Open(cald);
        Assert.Equal(source.Config, compressed.Content.Config);
        var stdout = new StringWriter();
        Assert.Equal(0, CalderaCli.Run(["inspect", Gguf], stdout, TextWriter.Null));
        Assert.Contains("rope_freqs      4 per-pair divisors, 1 to 8", stdout.ToString());
    }

    [Theory]
    [InlineData(3, "has 3 factors, expected one per rotated pair (4 for head width 8)")]
    [InlineData(4, "factor 2 is 0; every factor must be a positive finite number")]
    public void Bad_rope_freqs_exit_2_naming_the_tensor(int count, string message)
    {
        string path = _temp.File("bad.gguf");
        byte[] bytes = File.ReadAllBytes(Gguf);
        if (count == 3)
        {
            // The tensor info: name, then 1 dimension (u32), then its length (u64).
            int info = IndexOf(bytes, "rope_freqs.weight"u8.ToArray()) + "rope_freqs.weight".Length;
            Assert.Equal(1u, BitConverter.ToUInt32(bytes, info));
            BitConverter.GetBytes(3UL).CopyTo(bytes, info + 4);
        }
        else
        {
            byte[] factors;
            using (var model = ModelCheckpoint.Open(Gguf)) factors = System.Runtime.InteropServices.MemoryMarshal.AsBytes(model.Config.RopeFrequencyFactors!.Values).ToArray();
            BitConverter.GetBytes(0f).CopyTo(bytes, IndexOf(bytes, factors) + 8);
        }
        File.WriteAllBytes(path, bytes);
        var stderr = new StringWriter();
        Assert.Equal(2, CalderaCli.Run(["inspect", path], TextWriter.Null, stderr));
        Assert.Contains($"{path}: tensor 'rope_freqs.weight'", stderr.ToString());
        Assert.Contains(message, stderr.ToString());
    }

    private static void AssertReference(ModelCheckpoint model)
    {
        var (tokens, expected) = Reference();
        float[] actual = Logits(model, tokens);
        float worst = MaxDifference(expected, actual);
        Assert.True(worst <= LogitTolerance, $"max |Δlogit| {worst} exceeds {LogitTolerance}");
    }

    private static (int[] Tokens, float[] Logits) Reference()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixture, "reference.json")));
        int[] tokens = json.RootElement.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()).ToArray();
        byte[] raw = File.ReadAllBytes(Path.Combine(Fixture, json.RootElement.GetProperty("logits_file").GetString()!));
        float[] logits = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(raw).ToArray();
        Assert.Equal(tokens.Length * json.RootElement.GetProperty("logits_shape")[1].GetInt32(), logits.Length);
        return (tokens, logits);
    }

    private static float[] Logits(ModelCheckpoint model, int[] tokens)
    {
        using var transformer = new Transformer(model, new TransformerOptions { Threads = 1 });
        var logits = new float[tokens.Length * model.Config.VocabSize];
        transformer.Prefill(tokens, 0, logits);
        return logits;
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        int at = haystack.AsSpan().IndexOf(needle);
        Assert.True(at >= 0);
        return at;
    }

    private static float MaxDifference(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        float worst = 0;
        for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs(a[i] - b[i]));
        return worst;
    }
}
