using Caldera.Runtime.Compression;
using Caldera.Runtime.Model;

namespace Caldera.Compiler.Evaluation;

/// <summary>
/// Bits per weight as stored: of the decoder blocks' linear layers alone ("layer bpw", what llama.cpp's
/// per-type numbers count), and of every stored tensor together (the embedding, norms and classifier included).
/// </summary>
public sealed record StorageBits(double LayerBitsPerWeight, double ModelBitsPerWeight)
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
    /// A compressed model's content: per matrix Q's codes (16 bits per E8P word, b bits per weight for a uniform
    /// code), the factors' words or halves, one bit per SU/SV sign, fp32 fallback transform blocks and four fp32
    /// scales (the same count as the decomposition's <c>BitsPerWeight</c>); dense tensors at their stored size.
    /// </summary>
    public static StorageBits Of(CompressedModelContent content)
    {
        double layerBits = 0;
        long layerWeights = 0;
        foreach (var m in content.Matrices)
        {
            layerBits += MatrixBits(m);
            layerWeights += (long)m.Rows * m.Columns;
        }
        double denseBits = 0;
        long denseWeights = 0;
        foreach (var d in content.DenseTensors)
        {
            denseBits += 8.0 * d.Data.Length;
            long count = 1;
            foreach (long s in d.Shape) count *= s;
            denseWeights += count;
        }
        return new StorageBits(layerBits / layerWeights, (layerBits + denseBits) / (layerWeights + denseWeights));
    }

    public static double MatrixBits(CompressedLinearData m)
    {
        double bits = m.QKind == QCodeKind.Uniform ? (double)m.QBits * m.Rows * m.Columns : 16.0 * m.QCodes.Length;
        if (m.Rank > 0)
            bits += m.FactorBits == 4 ? 16.0 * (m.LTransposedCodes.Length + m.RCodes.Length) : 16.0 * (m.L.Length + m.R.Length);
        foreach (var t in new[] { m.InputTransform, m.OutputTransform })
            if (t != null) bits += t.Length + 32.0 * t.FallbackBlock.Length;
        return bits + 4 * 32;
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
