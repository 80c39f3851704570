using System.Buffers;
using System.Numerics.Tensors;
using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Compiler.Quantizers;

/// <summary>
/// Quantizes a matrix with a lattice codebook along its rows under one global scale:
///   s = RMS(W) / ρ,  Q̂ = NN(W/s) row by row,  Ŵ = s·Q̂,
/// where ρ is the target RMS (1.03 for the 2-bit E8P Q, 1 for the 4-bit residual-coded L and R factors).
/// </summary>
/// <remarks>
/// Row lengths that are not a multiple of 8 (e.g. stories260K's 172) end in a partial 8-vector; the codebook
/// searches it on its present coordinates only, treating the pad as free. Zero-padding the input instead would
/// charge the search for pad entries it can never reproduce (no codeword has a 0 entry) and so pull the real
/// coordinates off their nearest point. Rows are independent, so the parallel loop gives the same result
/// for any thread count.
/// </remarks>
internal sealed class LatticeMatrixQuantizer : IMatrixQuantizer
{
    public LatticeMatrixQuantizer(ILatticeCodebook codebook, float targetRms)
    {
        if (!(targetRms > 0) || !float.IsFinite(targetRms))
            throw new ArgumentOutOfRangeException(nameof(targetRms), targetRms, "the target RMS must be finite and positive.");
        Codebook = codebook;
        TargetRms = targetRms;
    }

    /// <summary>2-bit E8P at RMS 1.03: the Q matrix rounded without LDLQ (round-to-nearest).</summary>
    public static LatticeMatrixQuantizer E8P { get; } = new(E8PCodebook.Instance, E8PCodebook.OptimalInputRms);

    /// <summary>4-bit residual E8P at RMS 1: the L and R factors.</summary>
    public static LatticeMatrixQuantizer E8PResidual { get; } = new(E8PResidualCode.Instance, 1f);

    public ILatticeCodebook Codebook { get; }
    public float TargetRms { get; }
    public double BitsPerWeight => Codebook.BitsPerWeight;

    public QuantizedMatrix Quantize(ReadOnlyMemory<float> w, int rows, int columns) => Quantize(w, rows, columns, Environment.ProcessorCount);

    /// <summary><see cref="Quantize(ReadOnlyMemory{float}, int, int)"/> on at most <paramref name="threads"/> threads (the result does not depend on it).</summary>
    public QuantizedMatrix Quantize(ReadOnlyMemory<float> w, int rows, int columns, int threads)
    {
        MatrixArguments.RequireShape(w.Length, rows, columns, nameof(w));
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        float scale = (float)(MatrixArguments.RootMeanSquare(w.Span, columns, nameof(w)) / TargetRms);
        int wordsPerRow = E8PCodebook.VectorCount(columns) * Codebook.WordsPerVector;
        var codes = new ushort[(long)rows * wordsPerRow];
        var dequantized = new float[(long)rows * columns];
        int parts = Math.Min(threads, rows);
        Parallelism.For(parts, threads, part =>
        {
            (int start, int end) = Parallelism.Range(part, parts, rows);
            float[] x = ArrayPool<float>.Shared.Rent(columns);
            for (int r = start; r < end; r++)
            {
                ReadOnlySpan<float> row = w.Span.Slice(r * columns, columns);
                Span<float> scaled = x.AsSpan(0, columns);
                // An all-zero matrix has s = 0: round zeros, and s·Q̂ = 0 reproduces it exactly.
                if (scale > 0) TensorPrimitives.Divide(row, scale, scaled);
                else scaled.Clear();
                Span<float> q = dequantized.AsSpan(r * columns, columns);
                Codebook.QuantizeRow(scaled, q, codes.AsSpan(r * wordsPerRow, wordsPerRow));
                TensorPrimitives.Multiply(q, scale, q);
            }
            ArrayPool<float>.Shared.Return(x);
        });
        return new QuantizedMatrix(rows, columns, wordsPerRow, scale, codes, dequantized);
    }

    public void Dequantize(QuantizedMatrix q, Span<float> w)
    {
        int wordsPerRow = E8PCodebook.VectorCount(q.Columns) * Codebook.WordsPerVector;
        if (q.WordsPerRow != wordsPerRow)
            throw new ArgumentException($"the matrix has {q.WordsPerRow} words per row; this codebook needs {wordsPerRow} for {q.Columns} columns.", nameof(q));
        MatrixArguments.RequireShape(w.Length, q.Rows, q.Columns, nameof(w));
        for (int r = 0; r < q.Rows; r++)
        {
            Span<float> row = w.Slice(r * q.Columns, q.Columns);
            Codebook.DecodeRow(q.Codes.AsSpan(r * wordsPerRow, wordsPerRow), row);
            TensorPrimitives.Multiply(row, q.Scale, row);
        }
    }

    public void DequantizeRow(QuantizedMatrix q, int row, Span<float> w)
    {
        Span<float> destination = w[..q.Columns];
        Codebook.DecodeRow(q.Codes.AsSpan(row * q.WordsPerRow, q.WordsPerRow), destination);
        TensorPrimitives.Multiply(destination, q.Scale, destination);
    }
}
