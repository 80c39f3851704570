using Caldera.Runtime.Compression;
using Caldera.Runtime.Model;

namespace Caldera.Compiler.Evaluation;

/// <summary>
/// Bits per weight as stored: of the decoder blocks' matrices alone ("layer bpw", what llama.cpp's
/// per-type numbers count), and of every stored tensor together (the embedding, norms and classifier included).
/// </summary>
internal sealed record StorageBits(double LayerBitsPerWeight, double ModelBitsPerWeight)
{
    /// <summary>A dense checkpoint: each tensor's element size (32 for F32, 16 for F16/BF16).</summary>
    public static StorageBits Of(ModelCheckpoint checkpoint)
    {
        var c = checkpoint.Config;
        double layerBits = 0, allBits = 0;
        long layerWeights = 0, allWeights = 0;
        foreach (var t in checkpoint.Tensors.Values)
        {
            double bits = 8.0 * t.ByteLength;
            allBits += bits;
            allWeights += t.ElementCount;
            if (IsBlockMatrix(t.Name, c))
            {
                layerBits += bits;
                layerWeights += t.ElementCount;
            }
        }
        return new StorageBits(layerBits / layerWeights, allBits / allWeights);
    }

    /// <summary>
    /// A compressed model's content, counted as the .cald format stores it (<see cref="CompressedLinearData.StoredBits"/>
    /// per matrix, each distinct transform once); dense tensors at their stored size.
    /// </summary>
    public static StorageBits Of(CompressedModelContent content)
    {
        var (layerBits, layerWeights, totalWeights) = CompressedModelCheck.CountWeights(content);
        double otherBits = 0;
        foreach (var d in content.DenseTensors)
            if (d.Shape.Length != 2 || !d.Name.StartsWith("blk.", StringComparison.Ordinal)) otherBits += 8.0 * d.Data.Length;
        return new StorageBits((double)layerBits / layerWeights, (layerBits + otherBits) / totalWeights);
    }

    private static bool IsBlockMatrix(string name, LlamaConfig c)
    {
        for (int l = 0; l < c.LayerCount; l++)
            if (name == TensorNames.Query(l) || name == TensorNames.Key(l) || name == TensorNames.Value(l) ||
                name == TensorNames.AttentionOutput(l) || name == TensorNames.Gate(l) || name == TensorNames.Up(l) ||
                name == TensorNames.Down(l))
                return true;
        return false;
    }
}
