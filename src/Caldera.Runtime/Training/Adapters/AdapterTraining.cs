namespace Caldera.Runtime.Training.Adapters;

/// <summary>
/// How an adapter was trained, as its file records it: the objective and settings, how much text it saw (counted in
/// tokens, identified by a hash of the token ids, never the text), and the losses.
/// </summary>
internal sealed record AdapterTraining
{
    /// <summary>"next-token" or "distillation".</summary>
    public required string Objective { get; init; }

    /// <summary>The teacher checkpoint's file name for distillation, else null.</summary>
    public string? Teacher { get; init; }

    public required double LearningRate { get; init; }
    public required int Steps { get; init; }
    public required int SequenceLength { get; init; }
    public required int Accumulation { get; init; }
    public required int WarmupSteps { get; init; }
    public required double WeightDecay { get; init; }
    public required double ClipNorm { get; init; }
    public required double ValidationFraction { get; init; }
    public required ulong Seed { get; init; }

    /// <summary>Whether the ranks trained through the merge's rounding (and the adapter holds them rounded).</summary>
    public bool QuantizationAware { get; init; }

    /// <summary>Tokens of the text, and of it the held-out validation windows' tokens.</summary>
    public required long DataTokens { get; init; }
    public required long ValidationTokens { get; init; }

    /// <summary>Tokens predicted in training (steps × accumulation × T).</summary>
    public required long TrainedTokens { get; init; }

    /// <summary>SHA-256 (hex) of the text's token ids as little-endian int32.</summary>
    public required string DataSha256 { get; init; }

    /// <summary>Mean loss per token of each step.</summary>
    public required IReadOnlyList<double> Losses { get; init; }

    /// <summary>(step, mean validation loss per token) of each validation pass; step 0 is before training.</summary>
    public required IReadOnlyList<(int Step, double Loss)> ValidationLosses { get; init; }

    /// <summary>The step whose factors the adapter holds: the best validation step, or the last step.</summary>
    public required int KeptStep { get; init; }
}
