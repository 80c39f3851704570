using Caldera.Runtime.Model;

namespace Caldera.Runtime.Tests.Inference;

/// <summary>In-memory re-encodings of a real checkpoint: other weight types, an untied classifier, permuted q/k rows.</summary>
internal static class CheckpointVariants
{
    /// <summary>
    /// Every tensor <paramref name="config"/> needs, copied from <paramref name="source"/> (the output matrix
    /// from the embedding when the source ties them), matrices stored as <paramref name="matrixType"/>.
    /// </summary>
    public static ModelCheckpoint Rebuild(ModelCheckpoint source, LlamaConfig config, TensorType matrixType = TensorType.F32,
        Func<string, float[], float[]>? transform = null)
    {
        var builder = new InMemoryCheckpoint(config, source.SourcePath + " (variant)");
        foreach (var (name, shape) in TensorNames.Expected(config))
        {
            string from = name == TensorNames.Output && source.Config.TiedClassifier ? TensorNames.TokenEmbedding : name;
            var values = source.Tensor(from).ToArray();
            if (transform != null) values = transform(name, values);
            builder.Add(name, shape, shape.Length == 2 ? matrixType : TensorType.F32, values);
        }
        return builder.Build();
    }

    /// <summary>
    /// Reorders the rows of each head from interleaved RoPE pairs (2i, 2i+1) to rotate-half pairs (i, i + d/2):
    /// new row j &lt; d/2 ← old row 2j; new row j ≥ d/2 ← old row 2(j − d/2) + 1. This is the permutation
    /// Hugging Face's conversion script applies to Meta's q/k weights.
    /// </summary>
    public static float[] ToRotateHalf(float[] matrix, int headDim, int columns)
    {
        var result = new float[matrix.Length];
        int rows = matrix.Length / columns;
        for (int head = 0; head < rows / headDim; head++)
            for (int j = 0; j < headDim; j++)
            {
                int old = j < headDim / 2 ? 2 * j : 2 * (j - headDim / 2) + 1;
                Array.Copy(matrix, (head * headDim + old) * columns, result, (head * headDim + j) * columns, columns);
            }
        return result;
    }
}
