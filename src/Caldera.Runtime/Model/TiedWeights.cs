namespace Caldera.Runtime.Model;

/// <summary>
/// Classifiers that are the token embedding in all but name. Some converters write a tied model's classifier out as a
/// second tensor (tinystories-256d's GGUF has an <c>output.weight</c> identical to <c>token_embd.weight</c>); such a
/// model is tied, and is stored and counted as tied.
/// </summary>
internal static class TiedWeights
{
    /// <summary>
    /// Whether <paramref name="checkpoint"/> has an <c>output.weight</c> equal byte for byte (type, shape and every
    /// element) to its <c>token_embd.weight</c>. False for a model already tied, which stores no classifier.
    /// </summary>
    public static bool ClassifierCopiesEmbedding(ModelCheckpoint checkpoint)
    {
        if (checkpoint.Config.TiedClassifier ||
            !checkpoint.Tensors.TryGetValue(TensorNames.Output, out var output) ||
            !checkpoint.Tensors.TryGetValue(TensorNames.TokenEmbedding, out var embedding) ||
            output.Type != embedding.Type || !output.Shape.AsSpan().SequenceEqual(embedding.Shape))
            return false;
        for (int r = 0; r < embedding.Rows; r++)
            if (!output.RowBytes(r).SequenceEqual(embedding.RowBytes(r))) return false;
        return true;
    }
}
