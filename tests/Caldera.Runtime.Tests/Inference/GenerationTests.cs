using Caldera.Cli;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;
using Caldera.Runtime.Sampling;
using Caldera.Runtime.Tokenization;

namespace Caldera.Runtime.Tests.Inference;

public class GenerationTests
{
    /// <summary>llama2.c's output for <c>run stories260K.bin -z tok512.bin -t 0.0 -n 200 -i "Once upon a time"</c>.</summary>
    private const string Llama2cGreedy200 =
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. " +
        "She wanted to play with it, but it was too high.\nLily's mom said, \"Lily, let's go to the park.\" Lily was sad and didn't know what to do. " +
        "She said, \"I want to play with your ball, but I can't find it.\"\nLily was sad and didn't know what to do. She said, \"I'm sorry, Lily. " +
        "I didn't know what to do.\"\nLily didn't want to help her mom, so she";

    [Theory]
    [InlineData("bin")]
    [InlineData("gguf")]
    [InlineData("hf-f32")]
    public void Caldera_run_greedy_prints_exactly_llama2c_output_from_every_copy_of_the_checkpoint(string copy)
    {
        // A checkpoint runs at its own precision (float, as llama2.c does) without a flag; the int8 path's 6-bit classifier
        // would leave this story at a near tie after 175 characters (Int6ClassifierTests).
        using var temp = new TempDirectory();
        string model = copy switch
        {
            "bin" => TestModels.Stories260KBin,
            "gguf" => TestModels.Stories260KGguf,
            _ => WriteHfCopy(temp.File("hf-f32")),
        };
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = CalderaCli.Run(
            ["run", model, "--tokenizer", TestModels.Tok512Model, "--prompt", "Once upon a time", "--steps", "200", "--temperature", "0"],
            stdout, stderr);
        Assert.True(exit == 0, stderr.ToString());
        Assert.Equal(Llama2cGreedy200 + Environment.NewLine, stdout.ToString());
        // Prompt and generation speeds apart, as llama.cpp reports them: BOS + 4 prompt tokens, then 195 of 200 positions
        // decoded; then the kernel paths this machine ran.
        Assert.Matches(@"^achieved tok/s: prompt \d+\.\d\d \(5 tokens\), generation \d+\.\d\d \(195 tokens\); kernels \w+, int8 \w+\r?\n$", stderr.ToString());
    }

    private static string WriteHfCopy(string dir)
    {
        using var bin = ModelCheckpoint.Open(TestModels.Stories260KBin);
        HfCheckpointWriter.Write(bin, dir, TensorType.F32, 1);
        return dir;
    }

    [Fact]
    public void Max_output_tokens_count_the_tokens_after_the_prompt()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        using var transformer = new Transformer(model, new TransformerOptions { Threads = 1 });
        var generator = new TextGenerator(transformer, ModelTokenizer.Load(TestModels.Tok512Model));
        var greedy = new GenerationOptions { MaxOutputTokens = 16, Sampling = new SamplingOptions { Temperature = 0 } };
        string text = generator.GenerateText("Once upon a time", greedy);
        // BOS + 4 prompt tokens fill positions 0..4; positions 4..19 each yield one token: 16 generated, 15 fed back.
        Assert.Equal(new GenerationStatistics(5, 16, 15, TimeSpan.Zero, TimeSpan.Zero) { ReachedLimit = true }, generator.LastRun! with { PrefillTime = TimeSpan.Zero, DecodeTime = TimeSpan.Zero });
        Assert.StartsWith(", there was a little girl", text);
        Assert.StartsWith(text, Llama2cGreedy200["Once upon a time".Length..]);
        Assert.Equal("Once upon a time" + text, generator.GenerateText("Once upon a time", greedy with { EchoPrompt = true }));
    }

    [Fact]
    public async Task Streaming_gives_the_same_text_and_stops_when_cancelled()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        using var transformer = new Transformer(model, new TransformerOptions { Threads = 1 });
        var generator = new TextGenerator(transformer, ModelTokenizer.Load(TestModels.Tok512Model));
        var options = new GenerationOptions { MaxOutputTokens = 60, Sampling = new SamplingOptions { Temperature = 0.8f, Seed = 11 } };
        string expected = generator.GenerateText("The cat", options);

        var pieces = new List<string>();
        await foreach (var piece in generator.GenerateAsync("The cat", options)) pieces.Add(piece);
        Assert.Equal(expected, string.Concat(pieces));
        Assert.True(pieces.Count > 10);

        using var cancel = new CancellationTokenSource();
        int received = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var piece in generator.GenerateAsync("The cat", options, cancel.Token))
                if (++received == 3) cancel.Cancel();
        });
        Assert.Equal(3, received);
    }

    [Theory]
    [InlineData("--steps", "abc", "--steps 'abc' is not an integer")]
    [InlineData("--steps", "0", "--steps 0 must be at least 1")]
    [InlineData("--temperature", "-0.5", "--temperature -0.5 is negative")]
    [InlineData("--top-p", "0", "--top-p 0 is outside (0, 1]")]
    [InlineData("--top-p", "1.5", "--top-p 1.5 is outside (0, 1]")]
    [InlineData("--threads", "0", "--threads 0 must be at least 1")]
    [InlineData("--top-k", "-1", "--top-k -1 must be at least 0")]
    [InlineData("--seed", "-3", "--seed '-3' is not a non-negative integer")]
    [InlineData("--frobnicate", "1", "Unrecognized command or argument '--frobnicate'")]
    public void Bad_run_options_exit_2_with_the_reason(string option, string value, string message)
    {
        var stderr = new StringWriter();
        int exit = CalderaCli.Run(["run", TestModels.Stories260KBin, "--prompt", "hi", option, value], TextWriter.Null, stderr);
        Assert.Equal(CalderaCli.UsageOrInputError, exit);
        Assert.Contains(message, stderr.ToString());
    }

    [Fact]
    public void Missing_prompt_model_or_tokenizer_exit_2()
    {
        var stderr = new StringWriter();
        Assert.Equal(2, CalderaCli.Run(["run", TestModels.Stories260KBin], TextWriter.Null, stderr));
        Assert.Contains("--prompt is required", stderr.ToString());

        stderr = new StringWriter();
        Assert.Equal(2, CalderaCli.Run(["run", "--prompt", "hi"], TextWriter.Null, stderr));
        Assert.Contains("run: Required argument 'model' missing", stderr.ToString());

        // stories260K.bin has no tokenizer.model beside it and llama2.c files carry no vocabulary.
        stderr = new StringWriter();
        Assert.Equal(2, CalderaCli.Run(["run", TestModels.Stories260KBin, "--prompt", "hi"], TextWriter.Null, stderr));
        Assert.Contains("pass --tokenizer <file>", stderr.ToString());
    }
}
