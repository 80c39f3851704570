using Caldera.Runtime.Compression;

namespace Caldera.Runtime.Training.Arithmetic;

/// <summary>
/// A frozen or trainable m×n matrix as training reads it: one row, or a segment of one, at a time. Coded matrices (Q's
/// E8P or uniform words, the frozen ranks of 4-bit Lᵀ and R) decode the segment into the caller's scratch, so training
/// never holds a dequantized copy of Q; float matrices hand out their own rows.
/// </summary>
internal abstract class RowMatrix(int rows, int columns)
{
    /// <summary>Segments start at multiples of this many columns, so that no segment cuts a code vector.</summary>
    public const int SegmentAlignment = E8PLattice.Dimension;

    public int Rows { get; } = rows;
    public int Columns { get; } = columns;

    /// <summary>
    /// Columns [<paramref name="start"/>, start + <paramref name="length"/>) of row <paramref name="row"/>, with the matrix's
    /// scale applied; <paramref name="start"/> is a multiple of <see cref="SegmentAlignment"/>. Decoded into
    /// <paramref name="scratch"/> (at least <paramref name="length"/> floats) when the matrix is coded.
    /// </summary>
    public abstract ReadOnlySpan<float> Segment(int row, int start, int length, Span<float> scratch);

    public ReadOnlySpan<float> Row(int row, Span<float> scratch) => Segment(row, 0, Columns, scratch);
}
