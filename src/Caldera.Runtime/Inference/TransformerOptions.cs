namespace Caldera.Runtime.Inference;

/// <summary>How a <see cref="Transformer"/> runs: threads, KV-cache length, prefill batch, int8 decode and classifier.</summary>
internal sealed record TransformerOptions
{
    /// <summary>Threads for the forward pass, the calling thread included.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Positions the KV cache holds; null means the model's context length.</summary>
    public int? ContextLength { get; init; }

    /// <summary>Prompt tokens per prefill pass; longer prompts are prefilled in chunks of this size.</summary>
    public int PrefillBatchSize { get; init; } = 64;

    /// <summary>The most sequences one <see cref="Transformer.DecodeSteps"/> call runs together (the activation buffers hold that many rows).</summary>
    public int DecodeStepsBatchSize { get; init; } = 1;

    /// <summary>
    /// Run compressed matrices with int8 activations (<see cref="CompressedLinear.Int8Activations"/>): decode, and
    /// Q·u of prefill, are faster, at the small quality cost docs/quality.md measures. Dense matrices are unaffected. Off in this
    /// low-level API (float, bit-reproducible against the references); the product surfaces, <c>caldera run</c> and
    /// generated model classes (<see cref="Hosting.CalderaModelOptions.Int8Arithmetic"/>), turn it and
    /// the 6-bit classifier (<see cref="ClassifierPrecision"/>) on.
    /// </summary>
    public bool Int8Activations { get; init; }

    /// <summary>
    /// How a dense classifier runs, in decode and in prefill: as stored (the default here), or as a copy quantised at load,
    /// int8 (<see cref="Int8DenseLinear"/>: 9 bits per weight streamed per token) or 6-bit
    /// (<see cref="Int6DenseLinear"/>: 6.5 bits), both applied to the final state quantised to int8 per block of 32,
    /// at the small quality costs docs/quality.md measures. The token embedding of a tied model still reads the stored rows.
    /// A classifier stored in 6-bit blocks (<see cref="Model.TensorType.Int6Blocks"/>, what <c>caldera compress</c> writes)
    /// runs as stored whatever this says.
    /// </summary>
    public ClassifierPrecision ClassifierPrecision { get; init; }
}
