using System.Runtime.InteropServices;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;

namespace Caldera.Compiler.Pipeline;

/// <summary>
/// The tensors a compressed model keeps uncompressed: the token embedding and an untied classifier not compressed as
/// <see cref="EmbeddingStorage"/> says (4- or 6-bit blocks, or F16), the RMSNorm gains at F32 (dim values each, negligible).
/// </summary>
internal static class DenseTensors
{
    /// <param name="config">The compressed model's config: tied (no classifier stored) also when the checkpoint's classifier copies the embedding.</param>
    /// <param name="classifier">Whether the classifier is stored here (untied and not compressed).</param>
    public static IReadOnlyList<DenseTensorData> Of(ModelCheckpoint checkpoint, LlamaConfig config, EmbeddingStorage storage, bool classifier)
    {
        var c = config;
        // Int6Blocks pads each row to whole groups of 256: below about 104 columns (stories260K's 64) F16 is smaller, and kept.
        Func<TensorView, DenseTensorData> vocabulary = storage switch
        {
            EmbeddingStorage.Int4 => t => Blocks(t, TensorType.Int4Blocks),
            EmbeddingStorage.Int6 when TensorType.Int6Blocks.ByteLength([1, c.Dim]) < 2L * c.Dim => t => Blocks(t, TensorType.Int6Blocks),
            _ => Half16,
        };
        var result = new List<DenseTensorData> { vocabulary(checkpoint.Tensor(TensorNames.TokenEmbedding)) };
        for (int l = 0; l < c.LayerCount; l++)
        {
            result.Add(Float32(checkpoint.Tensor(TensorNames.AttentionNorm(l))));
            result.Add(Float32(checkpoint.Tensor(TensorNames.FfnNorm(l))));
        }
        result.Add(Float32(checkpoint.Tensor(TensorNames.OutputNorm)));
        if (classifier) result.Add(vocabulary(checkpoint.Tensor(TensorNames.Output)));
        return result;
    }

    private static DenseTensorData Blocks(TensorView t, TensorType type)
    {
        var bytes = new byte[checked((int)type.ByteLength(t.Shape))];
        if (type == TensorType.Int4Blocks) Int4Blocks.QuantizeMatrix(t, bytes);
        else Int6Blocks.QuantizeMatrix(t, bytes);
        return new DenseTensorData(t.Name, (long[])t.Shape.Clone(), type, bytes);
    }

    private static DenseTensorData Half16(TensorView t)
    {
        var bytes = new byte[checked(t.ElementCount * sizeof(ushort))];
        var halves = MemoryMarshal.Cast<byte, Half>(bytes.AsSpan());
        var row = new float[t.Columns];
        for (int r = 0; r < t.Rows; r++)
        {
            t.ReadRow(r, row);
            var destination = halves.Slice(r * t.Columns, t.Columns);
            for (int i = 0; i < row.Length; i++) destination[i] = (Half)row[i];
        }
        return new DenseTensorData(t.Name, (long[])t.Shape.Clone(), TensorType.F16, bytes);
    }

    private static DenseTensorData Float32(TensorView t) =>
        new(t.Name, (long[])t.Shape.Clone(), TensorType.F32, MemoryMarshal.AsBytes(t.ToArray().AsSpan()).ToArray());
}
