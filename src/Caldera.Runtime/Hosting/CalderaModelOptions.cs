namespace Caldera.Runtime.Hosting;

/// <summary>How a generated model class loads and runs its model.</summary>
public sealed record CalderaModelOptions
{
    /// <summary>
    /// A <c>.cald</c> file to load instead of the embedded/appended one (it must still be the model the class was
    /// generated for: its checksum is checked). Null: the build's storage.
    /// </summary>
    public string? ModelPath { get; init; }

    /// <summary>Threads for the forward pass, the calling thread included.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Positions the KV cache holds; null means the model's context length.</summary>
    public int? ContextLength { get; init; }

    /// <summary>
    /// Run the kernels the build generated for the model's shapes (true) or the generic runtime kernels (false; the
    /// differential tests compare the two).
    /// </summary>
    public bool UseGeneratedKernels { get; init; } = true;
}
