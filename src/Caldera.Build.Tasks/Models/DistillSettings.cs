using System.Globalization;

namespace Caldera.Build.Tasks.Models;

/// <summary>
/// <c>Distill="true"</c> and its settings: after compressing, train the top <see cref="Rank"/> ranks of every
/// matrix's L and R toward the checkpoint's own next-token distributions on the item's calibration text
/// (<c>caldera finetune --teacher</c>), then fold them back into the factors (<c>caldera adapter merge</c>), so the app
/// embeds one model. Each setting maps to one <c>caldera finetune</c> option.
/// </summary>
/// <param name="Steps"><c>--steps</c>: optimizer steps, one window each.</param>
/// <param name="LearningRate"><c>--lr</c>: peak AdamW learning rate.</param>
/// <param name="Rank"><c>--rank</c>: top ranks that train (a matrix with fewer trains all of its own).</param>
/// <param name="SequenceLength"><c>--seq-len</c>: tokens per training window.</param>
internal sealed record DistillSettings(int Steps, float LearningRate, int Rank, int SequenceLength)
{
    /// <summary>
    /// <c>caldera finetune</c>'s arguments. <c>--quantization-aware</c> because the build embeds the merged model: the
    /// ranks train through the merge's rounding, so the merged file is the model trained (fp32 ranks would lose most
    /// of their gain to that rounding). <c>--resume</c> goes on from <c>&lt;adapter&gt;.checkpoint</c> when a cancelled
    /// build left one; without one it starts afresh. The thread count is left to the tool: it never changes the adapter.
    /// </summary>
    public List<string> FineTuneArguments(string baseModel, string teacher, string calibration, string adapter) =>
        ["finetune", baseModel, "--teacher", teacher, "--text", calibration, "-o", adapter,
            "--steps", Invariant(Steps), "--lr", LearningRateText, "--rank", Invariant(Rank), "--seq-len", Invariant(SequenceLength),
            "--quantization-aware", "--resume"];

    /// <summary><c>caldera adapter merge</c>'s arguments: the trained ranks folded into <paramref name="baseModel"/>'s factors.</summary>
    public static List<string> MergeArguments(string baseModel, string adapter, string output) =>
        ["adapter", "merge", baseModel, adapter, "-o", output];

    /// <summary>Every setting that changes the distilled model, for the stamp and the build log.</summary>
    public string Summary =>
        $"steps {Invariant(Steps)}, lr {LearningRateText}, rank {Invariant(Rank)}, seq-len {Invariant(SequenceLength)}";

    /// <summary>Round-trips the float, so the tool trains with exactly the rate the stamp records.</summary>
    private string LearningRateText => LearningRate.ToString("R", CultureInfo.InvariantCulture);

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
