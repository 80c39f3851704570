namespace Caldera.Runtime.Inference;

/// <summary>Counts and timings of one generation run.</summary>
/// <param name="PromptTokens">Prompt tokens prefilled, BOS included.</param>
/// <param name="GeneratedTokens">Tokens sampled, the final end-of-sequence token included.</param>
/// <param name="DecodedTokens">Generated tokens fed back through the model one at a time.</param>
internal sealed record GenerationStatistics(int PromptTokens, int GeneratedTokens, int DecodedTokens, TimeSpan PrefillTime, TimeSpan DecodeTime)
{
    /// <summary>Whether the run sampled as many tokens as it could: <see cref="GenerationOptions.MaxOutputTokens"/>, or what the context had room for.</summary>
    public bool ReachedLimit { get; init; }

    /// <summary>Positions run through the model per second, prompt and decode together.</summary>
    public double TokensPerSecond => (PromptTokens + DecodedTokens) / Math.Max(1e-9, (PrefillTime + DecodeTime).TotalSeconds);
}
