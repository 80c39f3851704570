namespace Caldera.Runtime.Training.FineTuning;

/// <summary>What a fine-tuning run does; each setting is recorded in the adapter it writes.</summary>
internal sealed record FineTuneSettings
{
    /// <summary>r: the top ranks of every compressed matrix that train.</summary>
    public int Rank { get; init; } = 16;

    /// <summary>T: tokens per window (each window predicts T next tokens from T + 1 tokens of text).</summary>
    public int SequenceLength { get; init; } = 128;

    /// <summary>Optimizer steps; null means <see cref="Epochs"/> passes over the training windows.</summary>
    public int? Steps { get; init; }

    public int Epochs { get; init; } = 1;

    /// <summary>Peak learning rate η.</summary>
    public double LearningRate { get; init; } = 1e-4;

    /// <summary>Windows whose gradients add up to one step.</summary>
    public int Accumulation { get; init; } = 1;

    /// <summary>The share of steps spent warming up (at least one step).</summary>
    public double WarmupFraction { get; init; } = 0.05;

    public double WeightDecay { get; init; }

    /// <summary>Largest global gradient norm; larger gradients are scaled down to it.</summary>
    public double ClipNorm { get; init; } = 1.0;

    /// <summary>The share of windows, from the end of the text, held out to pick the best step (0: none).</summary>
    public double ValidationFraction { get; init; }

    /// <summary>Steps between validation passes (0: ten per run).</summary>
    public int ValidationInterval { get; init; }

    /// <summary>
    /// Train the ranks through the rounding <c>caldera adapter merge</c> applies (<see cref="Model.FactorRounding"/>),
    /// so that the merged model is the trained one; the adapter then holds the rounded ranks.
    /// </summary>
    public bool QuantizationAware { get; init; }

    /// <summary>
    /// Train every RMSNorm gain too (each block's attention and FFN norm, and the final norm; d values each, no weight
    /// decay), which the adapter then holds and the merge writes in place of the base's.
    /// </summary>
    public bool TrainNorms { get; init; }

    /// <summary>Seeds the order of the windows.</summary>
    public ulong Seed { get; init; } = 1;

    public int Threads { get; init; } = 1;

    /// <summary>Steps of the warmup for a run of <paramref name="totalSteps"/>.</summary>
    public int WarmupSteps(int totalSteps) => Math.Clamp((int)Math.Round(WarmupFraction * totalSteps), 1, totalSteps);

    /// <summary>What is wrong with these settings, or null.</summary>
    public string? FindProblem()
    {
        if (Rank < 1) return $"rank {Rank} must be at least 1";
        if (SequenceLength < 2) return $"sequence length {SequenceLength} must be at least 2";
        if (Steps is < 1) return $"steps {Steps} must be at least 1";
        if (Epochs < 1) return $"epochs {Epochs} must be at least 1";
        if (!(LearningRate > 0 && double.IsFinite(LearningRate))) return $"learning rate {LearningRate} must be a positive number";
        if (Accumulation < 1) return $"accumulation {Accumulation} must be at least 1";
        if (!(WarmupFraction >= 0 && WarmupFraction <= 1)) return $"warmup fraction {WarmupFraction} must be in [0, 1]";
        if (!(WeightDecay >= 0 && double.IsFinite(WeightDecay))) return $"weight decay {WeightDecay} must be ≥ 0";
        if (!(ClipNorm > 0)) return $"clip norm {ClipNorm} must be positive";
        if (!(ValidationFraction >= 0 && ValidationFraction < 1)) return $"validation fraction {ValidationFraction} must be in [0, 1)";
        if (ValidationInterval < 0) return $"validation interval {ValidationInterval} must be ≥ 0";
        if (Threads < 1) return $"threads {Threads} must be at least 1";
        return null;
    }
}
