using Caldera.Runtime.Sampling;

namespace Caldera.Runtime.Inference;

/// <summary>What <see cref="TextGenerator"/> produces.</summary>
public sealed record GenerationOptions
{
    /// <summary>
    /// Positions to run, prompt included (llama2.c's <c>steps</c>): generation stops after the token at
    /// position Steps − 1 has been fed, or earlier at an end-of-sequence token. Capped at the model's context.
    /// </summary>
    public int Steps { get; init; } = 256;

    public SamplingOptions Sampling { get; init; } = new();

    /// <summary>Also stream the prompt's own text first, as llama2.c's <c>run</c> prints it.</summary>
    public bool EchoPrompt { get; init; }
}
