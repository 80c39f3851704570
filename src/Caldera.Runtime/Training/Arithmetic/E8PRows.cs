using Caldera.Runtime.Compression;
using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Training.Arithmetic;

/// <summary>Q as 2-bit E8P words (one per 8 weights, row-major), times its scale: Q = s_Q·decode(words).</summary>
internal sealed class E8PRows(ReadOnlyMemory<ushort> words, int wordsPerRow, int rows, int columns, float scale) : RowMatrix(rows, columns)
{
    public override ReadOnlySpan<float> Segment(int row, int start, int length, Span<float> scratch)
    {
        var segment = scratch[..length];
        var rowWords = words.Span.Slice(row * wordsPerRow, wordsPerRow);
        CodedRows.DecodeE8P(rowWords.Slice(start / E8PLattice.Dimension, E8PLattice.VectorCount(length)), segment, KernelPaths.Best);
        System.Numerics.Tensors.TensorPrimitives.Multiply(segment, scale, segment);
        return segment;
    }
}
