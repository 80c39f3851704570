namespace Caldera;

/// <summary>
/// How the next token is chosen from the logits. Temperature 0 is greedy (argmax). Otherwise the logits
/// are divided by <see cref="Temperature"/> and softmaxed, then cut to the <see cref="TopK"/> most likely
/// tokens (0 = no cut) and to the smallest set whose probability reaches <see cref="TopP"/> of what is left
/// (1 = no cut), and a token is drawn from the rest.
/// </summary>
public sealed record SamplingOptions
{
    public float Temperature { get; init; } = 1f;
    public float TopP { get; init; } = 0.9f;
    public int TopK { get; init; }

    /// <summary>CTRL-style penalty on tokens already in the context: a positive logit is divided by it, a negative one multiplied. 1 = off.</summary>
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>Seed of the PCG32 draws; null picks one from the clock.</summary>
    public ulong? Seed { get; init; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first setting out of range.</summary>
    internal SamplingOptions Validate()
    {
        if (!(Temperature >= 0 && float.IsFinite(Temperature)))
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "temperature must be a finite number ≥ 0");
        if (!(TopP > 0 && TopP <= 1))
            throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "top-p must be in (0, 1]");
        if (TopK < 0)
            throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "top-k must be ≥ 0 (0 = off)");
        if (!(RepetitionPenalty > 0 && float.IsFinite(RepetitionPenalty)))
            throw new ArgumentOutOfRangeException(nameof(RepetitionPenalty), RepetitionPenalty, "the repetition penalty must be a finite number > 0");
        return this;
    }
}
