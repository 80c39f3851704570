using Caldera.Runtime.Compression;
using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Training.Arithmetic;

/// <summary>
/// Rows [<paramref name="firstRow"/>, firstRow + rows) of a 4-bit factor stored as E8P residual words (Lᵀ or R: one row
/// per rank, two words per 8 weights), times the factor's scale: the frozen ranks below the trained ones.
/// </summary>
internal sealed class ResidualRows(ReadOnlyMemory<ushort> words, int firstRow, int rows, int columns, float scale) : RowMatrix(rows, columns)
{
    private readonly int _wordsPerRow = E8PResidualLattice.WordCount(columns);

    public override ReadOnlySpan<float> Segment(int row, int start, int length, Span<float> scratch)
    {
        var segment = scratch[..length];
        var rowWords = words.Span.Slice((firstRow + row) * _wordsPerRow, _wordsPerRow);
        int first = start / E8PLattice.Dimension * E8PResidualLattice.WordsPerVector;
        CodedRows.DecodeResidual(rowWords.Slice(first, E8PResidualLattice.WordCount(length)), segment, KernelPaths.Best);
        System.Numerics.Tensors.TensorPrimitives.Multiply(segment, scale, segment);
        return segment;
    }
}
