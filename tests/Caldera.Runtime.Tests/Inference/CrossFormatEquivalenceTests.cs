using Caldera.Cli;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tests.Formats;
using Caldera.Runtime.Tokenization;
using Xunit.Abstractions;

namespace Caldera.Runtime.Tests.Inference;

/// <summary>
/// The same trained weights through every reader give the same model: stories260K as llama2.c's .bin, as the
/// GGUF v1 conversion, and written by the test as Hugging Face directories (rotate-half q/k rows) in F32, BF16
/// and F16 (two shards with an index).
/// </summary>
public sealed class CrossFormatEquivalenceTests(ITestOutputHelper output) : IDisposable
{
    /// <summary>F32 in another layout: only the order of the q·k sums (rotate-half rows) differs, ≈1e-6 of logits of size ≈10.</summary>
    private const float F32Tolerance = 1e-4f;

    /// <summary>
    /// F16 keeps 11 significant bits (relative rounding 2⁻¹¹ ≈ 5e-4 per weight); through five blocks that moves
    /// logits of magnitude ≈10 by a few hundredths. BF16 keeps 8 bits (2⁻⁸ ≈ 4e-3 per weight), about 8× more.
    /// </summary>
    private const float F16Tolerance = 0.05f;
    private const float BF16Tolerance = 0.4f;

    private const int GreedySteps = 100;

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Gguf_v1_gives_the_bin_logits_exactly()
    {
        using var bin = ModelCheckpoint.Open(TestModels.Stories260KBin);
        using var gguf = ModelCheckpoint.Open(TestModels.Stories260KGguf);
        var tokens = Prompt();
        Assert.Equal(Logits(bin, tokens), Logits(gguf, tokens));
    }

    [Theory]
    [InlineData(nameof(TensorType.F32), 1)]
    [InlineData(nameof(TensorType.BF16), 1)]
    [InlineData(nameof(TensorType.F16), 2)]
    public void Hugging_face_layout_gives_the_bin_logits_and_greedy_tokens(string dtypeName, int shards)
    {
        var dtype = Enum.Parse<TensorType>(dtypeName);
        using var bin = ModelCheckpoint.Open(TestModels.Stories260KBin);
        string dir = _temp.File($"hf-{dtype}-{shards}");
        HfCheckpointWriter.Write(bin, dir, dtype, shards);
        using var hf = ModelCheckpoint.Open(dir);
        Assert.Equal(RopePairing.RotateHalf, hf.Config.RopePairing);

        var tokens = Prompt();
        var expected = Logits(bin, tokens);
        var actual = Logits(hf, tokens);
        float worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        output.WriteLine($"{dtype} ({shards} shard(s)): max |Δlogit| = {worst:E2} over {tokens.Length} positions");
        float tolerance = dtype switch { TensorType.F32 => F32Tolerance, TensorType.F16 => F16Tolerance, _ => BF16Tolerance };
        Assert.True(worst <= tolerance, $"max |Δlogit| {worst} exceeds {tolerance} for {dtype}");

        Assert.Equal(Greedy(bin), Greedy(hf));
    }

    [Fact]
    public void Tinystories_256d_gguf_with_its_embedded_vocabulary_matches_llama_cpp_greedy_text()
    {
        // llama.cpp (llama-completion -p "Once upon a time" -n 100 --temp 0), as recorded in the models' README; the
        // tokenizer is the GGUF's own vocabulary, found by `run` without --tokenizer. 4 prompt positions + 100 tokens, in
        // float as llama.cpp ran the F32 model (the default 6-bit classifier parts from it after 218 characters, at a near tie).
        const string llamaCpp = "Once upon a time, there was a little girl named Lily. She loved to play with her toys and eat sugar " +
            "because it was all alone. One day, she went to the park to play. She saw a big, red ball in the garden and wanted to share it. " +
            "Lily was so happy and couldn't find it.\n\nLily";
        var stdout = new StringWriter();
        int code = CalderaCli.Run(["run", TestModels.TinyStories256dGguf, "--prompt", "Once upon a time", "--steps", "104", "--temperature", "0", "--float"],
            stdout, new StringWriter());
        Assert.Equal(0, code);
        Assert.Equal(llamaCpp, stdout.ToString().TrimEnd('\n'));
    }

    [Fact]
    public void Run_on_a_corrupt_checkpoint_exits_2_naming_the_file()
    {
        string truncated = _temp.File("truncated.bin");
        File.WriteAllBytes(truncated, File.ReadAllBytes(TestModels.Stories260KBin)[..100_000]);
        string noConfig = _temp.File("hf-empty");
        Directory.CreateDirectory(noConfig);
        foreach (string model in new[] { truncated, noConfig })
        {
            var stderr = new StringWriter();
            int code = CalderaCli.Run(["run", model, "--tokenizer", TestModels.Tok512Model, "--prompt", "Once"], new StringWriter(), stderr);
            Assert.Equal(2, code);
            Assert.Contains(model, stderr.ToString());
        }
    }

    private static int[] Prompt() =>
        ModelTokenizer.Load(TestModels.Tok512Model).Encode("Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.");

    private static float[] Logits(ModelCheckpoint model, int[] tokens)
    {
        using var transformer = new Transformer(model, new TransformerOptions { Threads = 2 });
        var logits = new float[tokens.Length * model.Config.VocabSize];
        transformer.Prefill(tokens, 0, logits);
        return logits;
    }

    private static int[] Greedy(ModelCheckpoint model)
    {
        using var transformer = new Transformer(model, new TransformerOptions { Threads = 1 });
        var tokens = new List<int> { 1 };
        for (int pos = 0; pos < GreedySteps; pos++)
        {
            var logits = transformer.Decode(tokens[^1], pos);
            int best = 0;
            for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
            tokens.Add(best);
        }
        return [.. tokens];
    }
}
