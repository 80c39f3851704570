namespace Caldera.Runtime.Training.Arithmetic;

/// <summary>Q as a symmetric uniform grid, one word per weight holding level + maxLevel: Q = s_Q·(word − maxLevel).</summary>
internal sealed class UniformRows(ReadOnlyMemory<ushort> words, int maxLevel, int rows, int columns, float scale) : RowMatrix(rows, columns)
{
    public override ReadOnlySpan<float> Segment(int row, int start, int length, Span<float> scratch)
    {
        var segment = scratch[..length];
        var codes = words.Span.Slice(row * Columns + start, length);
        for (int j = 0; j < length; j++) segment[j] = scale * (codes[j] - maxLevel);
        return segment;
    }
}
