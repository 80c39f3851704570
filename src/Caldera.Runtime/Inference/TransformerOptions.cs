namespace Caldera.Runtime.Inference;

/// <summary>How a <see cref="Transformer"/> runs: threads, KV-cache length, prefill batch, int8 decode and classifier.</summary>
public sealed record TransformerOptions
{
    /// <summary>Threads for the forward pass, the calling thread included.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Positions the KV cache holds; null means the model's context length.</summary>
    public int? ContextLength { get; init; }

    /// <summary>Prompt tokens per prefill pass; longer prompts are prefilled in chunks of this size.</summary>
    public int PrefillBatchSize { get; init; } = 64;

    /// <summary>
    /// Run compressed layers with int8 activations (<see cref="CompressedLinearLayer.Int8Activations"/>): decode, and
    /// Q·u of prefill, are faster, at the small quality cost docs/quality.md measures. Dense layers are unaffected. Off in this
    /// low-level API (float, bit-reproducible against the references); the product surfaces, <c>caldera run</c> and
    /// generated model classes (<see cref="Hosting.CalderaModelOptions.Int8Arithmetic"/>), turn it and
    /// <see cref="Int8Classifier"/> on.
    /// </summary>
    public bool Int8Activations { get; init; }

    /// <summary>
    /// Run a dense classifier as an int8 copy quantised at load (<see cref="Int8DenseLinearLayer"/>: one scale per 32
    /// weights, the input quantised the same way), in decode and in prefill: it streams 8.5 instead of 16 bits per
    /// weight per token, at the small quality cost docs/quality.md measures. The token embedding of a tied model still
    /// reads the stored rows.
    /// </summary>
    public bool Int8Classifier { get; init; }
}
