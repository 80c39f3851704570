using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Model;

/// <summary>Element types of weights the runtime computes with directly.</summary>
internal enum TensorType
{
    F32,
    F16,
    BF16,

    /// <summary>
    /// A matrix quantised by rows to 6-bit levels with a BF16 scale per 32 (<see cref="Int6Blocks"/>): the planes of
    /// every row, then the scales of every row. The form the classifier kernel reads in place, and one embedding row
    /// decodes on its own. 6.5 bits per weight.
    /// </summary>
    Int6Blocks,

    /// <summary>
    /// A matrix quantised by rows to 4-bit levels with a BF16 scale per 32 (<see cref="Int4Blocks"/>): the levels of every
    /// row, then the scales of every row. For the token embedding, one row decoded per token. 4.5 bits per weight.
    /// </summary>
    Int4Blocks,
}

internal static class TensorTypeExtensions
{
    /// <summary>Bytes of one element of a type stored element by element; block types have none (see <see cref="ByteLength"/>).</summary>
    public static int ElementSize(this TensorType type) => type switch
    {
        TensorType.F32 => 4,
        TensorType.F16 or TensorType.BF16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "is stored in blocks, not element by element"),
    };

    /// <summary>Whether the type stores each element on its own (F32, F16, BF16).</summary>
    public static bool IsElementwise(this TensorType type) => type is TensorType.F32 or TensorType.F16 or TensorType.BF16;

    /// <summary>
    /// Bytes a tensor of <paramref name="shape"/> takes, in 64-bit arithmetic (dimensions must be in range already); a
    /// block type needs a matrix and gives −1 for any other shape.
    /// </summary>
    public static long ByteLength(this TensorType type, ReadOnlySpan<long> shape)
    {
        if (type == TensorType.Int6Blocks)
            return shape.Length == 2 && shape[1] is > 0 and <= int.MaxValue
                ? shape[0] * (Int6Blocks.RowBytes((int)shape[1]) + sizeof(ushort) * (long)Int6Blocks.BlockCount((int)shape[1]))
                : -1;
        if (type == TensorType.Int4Blocks)
            return shape.Length == 2 && shape[1] is > 0 and <= int.MaxValue
                ? shape[0] * (Int4Blocks.RowBytes((int)shape[1]) + sizeof(ushort) * (long)Int4Blocks.BlockCount((int)shape[1]))
                : -1;
        long count = 1;
        foreach (long d in shape) count *= d;
        return count * type.ElementSize();
    }
}
