namespace Caldera.Runtime.Inference;

/// <summary>Counts and timings of one generation run.</summary>
/// <param name="PromptTokens">Prompt tokens prefilled, BOS included.</param>
/// <param name="GeneratedTokens">Tokens sampled, the final end-of-sequence token included.</param>
/// <param name="DecodedTokens">Generated tokens fed back through the model one at a time.</param>
internal sealed record GenerationStatistics(int PromptTokens, int GeneratedTokens, int DecodedTokens, TimeSpan PrefillTime, TimeSpan DecodeTime)
{
    /// <summary>Whether the run sampled as many tokens as it could: <see cref="GenerationOptions.MaxOutputTokens"/>, or what the context had room for.</summary>
    public bool ReachedLimit { get; init; }

    /// <summary>Prompt tokens prefilled per second (llama.cpp's prompt eval speed).</summary>
    public double PromptTokensPerSecond => PromptTokens / Math.Max(1e-9, PrefillTime.TotalSeconds);

    /// <summary>Generated tokens fed back per second, sampling included (llama.cpp's eval speed).</summary>
    public double GenerationTokensPerSecond => DecodedTokens / Math.Max(1e-9, DecodeTime.TotalSeconds);
}
