using System.Runtime.InteropServices;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// The layout <see cref="TensorType.Int4Blocks"/> and <see cref="TensorType.Int6Blocks"/> matrices share: the levels of
/// every row (a fixed number of bytes each), then the BF16 scales of every row (a fixed number of blocks each), so that
/// a run of rows is one run of levels and one of scales.
/// </summary>
internal static class BlockMatrixLayout
{
    /// <summary>One row quantised into its levels and its block scales.</summary>
    public delegate void RowQuantizer(ReadOnlySpan<float> row, Span<byte> levels, Span<ushort> scales);

    /// <summary>Quantises every row of <paramref name="weight"/> (F32, F16 or BF16) into <paramref name="matrix"/>, stored as <paramref name="type"/>.</summary>
    public static void Quantize(TensorView weight, Span<byte> matrix, TensorType type, long rowBytes, int blocks, RowQuantizer quantizeRow)
    {
        int rows = weight.Rows, columns = weight.Columns;
        if (matrix.Length != type.ByteLength(weight.Shape))
            throw new ArgumentException($"{weight} quantises to {type.ByteLength(weight.Shape)} bytes, got {matrix.Length}.", nameof(matrix));
        var scales = MemoryMarshal.Cast<byte, ushort>(matrix[(int)(rows * rowBytes)..]);
        var row = new float[columns];
        for (int r = 0; r < rows; r++)
        {
            weight.ReadRow(r, row);
            quantizeRow(row, matrix.Slice((int)(r * rowBytes), (int)rowBytes), scales.Slice(r * blocks, blocks));
        }
    }
}
