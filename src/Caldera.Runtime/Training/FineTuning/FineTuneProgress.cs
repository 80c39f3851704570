namespace Caldera.Runtime.Training.FineTuning;

/// <summary>Where a fine-tuning run stands after a step: its mean loss per token, speed and expected time left.</summary>
internal sealed record FineTuneProgress(int Step, int TotalSteps, double Loss, double? ValidationLoss, double TokensPerSecond, TimeSpan Elapsed)
{
    /// <summary>Time left at the speed so far.</summary>
    public TimeSpan Remaining => Step == 0 ? TimeSpan.Zero : Elapsed / Step * (TotalSteps - Step);
}
