namespace Caldera;

/// <summary>Where a fine-tuning run stands after a step: its mean loss per token, speed and expected time left.</summary>
/// <param name="Step">Steps done.</param>
/// <param name="TotalSteps">Steps the run takes.</param>
/// <param name="Loss">The step's mean loss per token (next-token cross-entropy, or soft-target cross-entropy when distilling).</param>
/// <param name="ValidationLoss">The held-out windows' mean loss per token, on the steps that measure it.</param>
/// <param name="TokensPerSecond">Training tokens per second so far.</param>
/// <param name="Elapsed">Time since training started.</param>
public sealed record FineTuneProgress(int Step, int TotalSteps, double Loss, double? ValidationLoss, double TokensPerSecond, TimeSpan Elapsed)
{
    /// <summary>Time left at the speed so far.</summary>
    public TimeSpan Remaining => Step == 0 ? TimeSpan.Zero : Elapsed / Step * (TotalSteps - Step);
}
