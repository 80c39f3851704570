namespace Caldera.Runtime.Training.Arithmetic;

/// <summary>A row-major float matrix: a dense matrix kept uncompressed, 16-bit factors widened, or trainable factors.</summary>
internal sealed class FloatRows(float[] values, int rows, int columns) : RowMatrix(rows, columns)
{
    /// <summary>Rows × columns, row-major; trainable matrices are updated in place.</summary>
    public float[] Values { get; } = values.Length == (long)rows * columns
        ? values
        : throw new ArgumentException($"{values.Length} values for a {rows}×{columns} matrix", nameof(values));

    public override ReadOnlySpan<float> Segment(int row, int start, int length, Span<float> scratch) =>
        Values.AsSpan(row * Columns + start, length);
}
