namespace Caldera.Compiler.Pipeline;

/// <summary>How a compressed model stores its classifier, <c>output.weight</c>.</summary>
internal enum ClassifierStorage
{
    /// <summary>
    /// Compressed like a block matrix (Q + L·R with the plan's rank) against its own Hessian, that of the final norm's
    /// outputs, and run by the same <see cref="Runtime.Inference.CompressedLinear"/> kernels. A tied model's classifier then
    /// becomes a matrix of its own beside the embedding, which stays row-readable; docs/quality.md measures whether that pays.
    /// </summary>
    Caldera,

    /// <summary>Stored as the embedding is (<see cref="EmbeddingStorage"/>); a tied classifier is the embedding, stored once.</summary>
    AsEmbedding,
}
