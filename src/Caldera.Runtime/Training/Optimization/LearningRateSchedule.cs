namespace Caldera.Runtime.Training.Optimization;

/// <summary>
/// Linear warmup then linear decay, the schedule of CALDERA's fine-tuning scripts: step s (1-based) of S runs at
/// η·s/W for s ≤ W, then η·(S − s + 1)/(S − W + 1), so the last step still moves.
/// </summary>
internal sealed record LearningRateSchedule(double Peak, int WarmupSteps, int TotalSteps)
{
    public double At(int step)
    {
        if (step <= WarmupSteps) return Peak * step / WarmupSteps;
        return Peak * (TotalSteps - step + 1) / (TotalSteps - WarmupSteps + 1);
    }
}
