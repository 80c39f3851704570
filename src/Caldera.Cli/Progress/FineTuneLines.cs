using System.Globalization;
using Caldera.Runtime.Training.FineTuning;

namespace Caldera.Cli.Progress;

/// <summary>Fine-tuning progress as plain lines (a log, a pipe): about fifty per run, and every validation pass.</summary>
internal sealed class FineTuneLines(TextWriter writer) : IProgress<FineTuneProgress>
{
    public void Report(FineTuneProgress p)
    {
        int every = Math.Max(1, p.TotalSteps / 50);
        if (p.Step % every != 0 && p.Step != p.TotalSteps && p.ValidationLoss is null) return;
        writer.WriteLine(Describe(p));
        writer.Flush();
    }

    public static string Describe(FineTuneProgress p) => string.Create(CultureInfo.InvariantCulture,
        $"step {p.Step}/{p.TotalSteps}  loss {p.Loss:F4}") +
        (p.ValidationLoss is { } v ? string.Create(CultureInfo.InvariantCulture, $"  validation {v:F4}") : "") +
        string.Create(CultureInfo.InvariantCulture, $"  {p.TokensPerSecond:F0} tok/s  elapsed {PlainProgress.Clock(p.Elapsed)}  eta {PlainProgress.Clock(p.Remaining)}");
}
