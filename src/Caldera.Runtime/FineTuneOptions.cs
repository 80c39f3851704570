using Caldera.Runtime.Training.FineTuning;

namespace Caldera;

/// <summary>How <see cref="CalderaModel.FineTuneAsync"/> trains: the top ranks of every compressed matrix's factors, on the app user's text.</summary>
public sealed record FineTuneOptions
{
    /// <summary>Top ranks of each matrix's factors that train.</summary>
    public int Rank { get; init; } = 16;

    /// <summary>Optimizer steps; null: <see cref="Epochs"/> passes over the text.</summary>
    public int? Steps { get; init; }

    public int Epochs { get; init; } = 1;

    /// <summary>Peak learning rate (AdamW, 5 % linear warmup, then linear decay).</summary>
    public double LearningRate { get; init; } = 1e-4;

    /// <summary>Tokens per training window.</summary>
    public int SequenceLength { get; init; } = 128;

    /// <summary>Share of the text, from its end, held out to keep the best step (0: keep the last).</summary>
    public double ValidationFraction { get; init; }

    /// <summary>
    /// Train every RMSNorm gain too (each block's attention and FFN norm, and the final norm), which the adapter then
    /// holds and loading it applies.
    /// </summary>
    public bool TrainNorms { get; init; }

    /// <summary>Worker threads; null: the model's <see cref="CalderaModelOptions.Threads"/>. The adapter is the same at any count.</summary>
    public int? Threads { get; init; }

    internal FineTuneSettings ToSettings(int defaultThreads) => new()
    {
        Rank = Rank, Steps = Steps, Epochs = Epochs, LearningRate = LearningRate, SequenceLength = SequenceLength,
        ValidationFraction = ValidationFraction, TrainNorms = TrainNorms, Threads = Threads ?? defaultThreads,
    };
}
