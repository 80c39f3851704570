using Caldera.Cli;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;
using System.Runtime.Intrinsics;

namespace Caldera.Cli.Tests;

/// <summary>
/// stories260K compressed end to end by `caldera compress` (real calibration on the first 90 % of the TinyStories
/// validation text) still tells a story: its greedy continuation is pinned up to the first near tie of two logits
/// (<see cref="GreedyTrace"/>), so any change to calibration, decomposition, the .cald format or the compressed kernels
/// that changes the model shows up here. The compression's own sums round in another order at another vector width and
/// pick other codes, so the stories are pinned for the two widths measured: AVX-512 and AVX2 only (DOTNET_EnableAVX512=0).
/// </summary>
public sealed class CompressedStoriesGreedyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("caldera-greedy-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { }
    }

    [Fact]
    public void Compressed_stories260K_greedy_story_is_pinned_up_to_its_first_near_tie()
    {
        string calibration = Path.Combine(_dir, "train.txt");
        File.WriteAllText(calibration, Quality.TinyStoriesSplit.Train);
        string model = Path.Combine(_dir, "stories260K-r16.cald");
        var log = new StringWriter();
        Assert.Equal(0, CalderaCli.Run(
            ["compress", TestModels.Stories260KBin, "--tokenizer", TestModels.Tok512Model, "-o", model,
             "--rank", "16", "--preset", "fast", "--calibration", calibration, "--samples", "64"], log, log));

        // Float arithmetic pins the model; caldera run's default (int8 activations, 6-bit classifier) pins the integer
        // kernels end to end.
        string[] run = ["run", model, "--prompt", "Once upon a time", "--steps", "100", "--temperature", "0"];
        bool wide = Vector512.IsHardwareAccelerated;
        AssertStoryUpToFirstNearTie(model, [.. run, "--float"], int8: false, wide ? ExpectedStory : ExpectedStoryAvx2);
        AssertStoryUpToFirstNearTie(model, run, int8: true, wide ? ExpectedIntegerStory : ExpectedIntegerStoryAvx2);
    }

    /// <summary>
    /// caldera run's output starts with <paramref name="expected"/>, and the first near tie of the same greedy decode
    /// comes right after it: a change that moves the tie, earlier or later, shows up too.
    /// </summary>
    private static void AssertStoryUpToFirstNearTie(string model, string[] run, bool int8, string expected)
    {
        var output = new StringWriter();
        Assert.Equal(0, CalderaCli.Run(run, output, new StringWriter()));
        Assert.StartsWith(expected, output.ToString());
        using var loaded = LoadedModel.Open(model);
        using var transformer = loaded.CreateTransformer(new TransformerOptions
        {
            Threads = 1, ContextLength = 100, Int8Activations = int8, ClassifierPrecision = int8 ? ClassifierPrecision.Int6 : ClassifierPrecision.Stored,
        });
        Assert.Equal(expected, GreedyTrace.TextBeforeFirstNearTie(transformer, loaded.EmbeddedTokenizer()!, "Once upon a time", 100).Text);
    }

    /// <summary>
    /// Float arithmetic (this model's dim of 64 keeps the embedding and the classifier in F16): after "She was very happy
    /// and" the top two logits are within <see cref="GreedyTrace.NearTie"/>.
    /// </summary>
    private const string ExpectedStory =
        "Once upon a time, there was a little girl named Lily. She loved to play with her toys and pretend toys. One day, she saw a big, rock on the ground. " +
        "She was very happy and";

    /// <summary>
    /// caldera run's default arithmetic (int8 activations, 6-bit classifier copy; the prompt's tokens in their decode
    /// steps' arithmetic): no two logits come within <see cref="GreedyTrace.NearTie"/> in the 100 steps, so the whole
    /// story is pinned. It leaves the float story at its near tie after "She was very happy and", where two continuations
    /// of a 260K-parameter model at rank 16 are close (on tinystories-256d int8 activations cost +0.21 % KLD and the 6-bit
    /// classifier +0.25 %, docs/quality.md).
    /// </summary>
    private const string ExpectedIntegerStory =
        "Once upon a time, there was a little girl named Lily. She loved to play with her toys and pretend toys. One day, she saw a big, rock on the ground. " +
        "She was very happy and showed her to her mom. She wanted to play with her toys, but her mom said, \"Lily, let's touch the rock.\"";

    /// <summary>The same, compressed and run with AVX2 only: the compression's codes differ, and so does the story.</summary>
    private const string ExpectedStoryAvx2 =
        "Once upon a time, there was a little girl named Lily. She loved to play with her toys and play with her toys. One day, she saw a big, rock on the ground. " +
        "She was very explyery while she was playing with her toys. She wanted to play with the toy car, but her mom said, \"Lily, let'";

    private const string ExpectedIntegerStoryAvx2 =
        "Once upon a time, there was a little girl named Lily. She loved to play with her toys and pretend toys. One day, she saw a big, rock on the ground. " +
        "She was very happy and showed her to her mom to the toy. She was very happy and she wanted to play with her toys.\n\"Hey, can I see a";
}
