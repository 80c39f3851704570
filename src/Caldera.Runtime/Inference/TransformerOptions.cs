namespace Caldera.Runtime.Inference;

/// <summary>How a <see cref="Transformer"/> runs: threads, KV-cache length, prefill batch.</summary>
public sealed record TransformerOptions
{
    /// <summary>Threads for the forward pass, the calling thread included.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Positions the KV cache holds; null means the model's context length.</summary>
    public int? ContextLength { get; init; }

    /// <summary>Prompt tokens per prefill pass; longer prompts are prefilled in chunks of this size.</summary>
    public int PrefillBatchSize { get; init; } = 64;
}
