namespace Caldera;

/// <summary>How much text <see cref="CalderaModel.Generate"/> produces and how each token is chosen.</summary>
public sealed record GenerationOptions
{
    /// <summary>
    /// The most tokens to generate after the prompt, an end-of-sequence token included (as Microsoft.Extensions.AI's
    /// <c>ChatOptions.MaxOutputTokens</c> counts them). Generation also stops at an end-of-sequence token and where the
    /// prompt and output fill the context.
    /// </summary>
    public int MaxOutputTokens { get; init; } = 256;

    public SamplingOptions Sampling { get; init; } = new();

    /// <summary>Also stream the prompt's own text first, as llama2.c's <c>run</c> prints it.</summary>
    public bool EchoPrompt { get; init; }
}
