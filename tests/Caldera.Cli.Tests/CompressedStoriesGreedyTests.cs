using Caldera.Cli;

namespace Caldera.Cli.Tests;

/// <summary>
/// stories260K compressed end to end by `caldera compress` (real calibration on the first 90 % of the TinyStories
/// validation text) still tells a story: its greedy continuation is pinned, so any change to calibration,
/// decomposition, the .cald format or the compressed kernels that changes the model shows up here.
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
    public void Compressed_stories260K_greedy_story_is_pinned()
    {
        string calibration = Path.Combine(_dir, "train.txt");
        File.WriteAllText(calibration, TrainSplit());
        string model = Path.Combine(_dir, "stories260K-r16.cald");
        var log = new StringWriter();
        Assert.Equal(0, CalderaCli.Run(
            ["compress", TestModels.Stories260KBin, "--tokenizer", TestModels.Tok512Model, "-o", model,
             "--rank", "16", "--preset", "fast", "--calibration", calibration, "--samples", "64"], log, log));

        // Float arithmetic pins the model; caldera run's default (int8 activations, 6-bit classifier) pins the integer
        // kernels end to end.
        string[] run = ["run", model, "--prompt", "Once upon a time", "--steps", "100", "--temperature", "0"];
        var exact = new StringWriter();
        Assert.Equal(0, CalderaCli.Run([.. run, "--float"], exact, new StringWriter()));
        Assert.Equal(ExpectedStory, exact.ToString().TrimEnd('\n'));
        var integer = new StringWriter();
        Assert.Equal(0, CalderaCli.Run(run, integer, new StringWriter()));
        Assert.Equal(ExpectedIntegerStory, integer.ToString().TrimEnd('\n'));
    }

    /// <summary>
    /// The same model under caldera run's default arithmetic: it parts from the float story at "play with her", where two
    /// continuations of a 260K-parameter model at rank 16 are close (on tinystories-256d int8 activations cost +0.19 %
    /// KLD and the 6-bit classifier +0.25 %, docs/quality.md). With the int8 classifier it went on "… she went to the
    /// beach with her friends."; the 6-bit one parts from that at "bea", and running the prompt's Q·u in integers too
    /// (int8 prefill) from the story after it at "She aseded,".
    /// </summary>
    private const string ExpectedIntegerStory =
        "Once upon a time, there was a little girl named Lily. She loved to play with her friends in the sunny day. One day, she went to the beautia and saw a big, red ball. " +
        "She aseded, but she didn't want to play with it.\n" +
        "Lily's mommy asked, \"What is go?\" \n" +
        "\"It";

    private const string ExpectedStory =
        "Once upon a time, there was a little girl named Lily. She loved to play with her toys and her friends. One day, Lily went to the beach with her mommy. She saw her mommy and daddy, \"Can I play with yours?\"\n" +
        "\"Yes,\" she said, \"Okay, but it was doneliasting and shines.\"";

    /// <summary>The calibration split of the models' README: up to the first blank line at or after 90 % of the bytes that a story starting "Once upon a time" follows.</summary>
    internal static string TrainSplit()
    {
        string text = File.ReadAllText(TestModels.TinyStoriesText);
        int cut = text.IndexOf("\n\nOnce upon a time", (int)(text.Length * 0.9), StringComparison.Ordinal);
        return text[..(cut + 2)];
    }
}
