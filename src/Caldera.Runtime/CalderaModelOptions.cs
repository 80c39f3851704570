namespace Caldera;

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

    /// <summary>
    /// Run with integer arithmetic (true, the default): compressed matrices with int8 activations in decode and in the
    /// prompt's prefill, and the classifier as a 6-bit copy made at load
    /// (6 bits per weight with a scale per group); on tinystories-256d at rank 16 this moves the mean KLD by
    /// +0.47 % relative (int8 activations +0.21 %, the 6-bit classifier +0.25 % on top; docs/quality.md). False: every
    /// step in float, the classifier as stored (what <c>caldera run --float</c> runs).
    /// </summary>
    public bool Int8Arithmetic { get; init; } = true;

    /// <summary>
    /// Sessions open at once: <see cref="CalderaModel.CreateSession"/>'s, and one for each call on the model's own
    /// <see cref="CalderaModel.Generate"/>, <see cref="CalderaModel.GenerateAsync"/> and chat methods while it runs (those
    /// wait for a place; CreateSession throws). Their decode steps run together, so this is also the largest decode batch;
    /// each session's KV cache grows with its conversation, up to <see cref="ContextLength"/> positions.
    /// </summary>
    public int MaxSessions { get; init; } = 16;

    /// <summary>
    /// Keep the KV caches of ended sessions and run each new chat or generate call on the one whose conversation its
    /// prompt continues, so a stateless client that sends the whole conversation every turn (as OpenAI-style clients do)
    /// prefills only what is new; usage's <c>CachedInputTokenCount</c> says how many prompt tokens were reused. Only
    /// positions that earlier prompt batches made are reused, and at least two prompt tokens always run, so a call gives
    /// the same logits as on a fresh model (a lone token and a decode step round otherwise than a batch). Off by default
    /// because it holds memory: up to <see cref="MaxSessions"/> caches stay allocated (the number checked against memory
    /// at load) where ended sessions' caches would otherwise be freed. A <see cref="CalderaSession"/> always keeps its own.
    /// </summary>
    public bool PromptCaching { get; init; }

    /// <summary>
    /// An adapter (<see cref="CalderaModel.FineTuneAsync"/>, or <c>caldera finetune</c>) to run over the model's factors;
    /// it must have been trained on this exact model (its checksum is checked). Null: the model as compiled.
    /// </summary>
    public string? AdapterPath { get; init; }
}
