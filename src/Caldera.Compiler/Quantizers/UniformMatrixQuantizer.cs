namespace Caldera.Compiler.Quantizers;

/// <summary>
/// Round-to-nearest with a <see cref="UniformQuantizer"/> and one absmax step for the whole matrix (the RTN
/// baseline, and the "uniform" option for L and R). One code word per weight.
/// </summary>
internal sealed class UniformMatrixQuantizer : IMatrixQuantizer
{
    public UniformMatrixQuantizer(int bits) => Quantizer = new UniformQuantizer(bits);

    public UniformQuantizer Quantizer { get; }
    public double BitsPerWeight => Quantizer.Bits;

    public QuantizedMatrix Quantize(ReadOnlyMemory<float> w, int rows, int columns)
    {
        MatrixArguments.RequireShape(w.Length, rows, columns, nameof(w));
        float step = Quantizer.StepFor(w.Span);
        var codes = new ushort[w.Length];
        var dequantized = new float[w.Length];
        Quantizer.Quantize(w.Span, step, dequantized, codes);
        return new QuantizedMatrix(rows, columns, columns, step, codes, dequantized);
    }

    public void Dequantize(QuantizedMatrix q, Span<float> w)
    {
        if (q.WordsPerRow != q.Columns)
            throw new ArgumentException($"the matrix has {q.WordsPerRow} words per row; a uniform code needs one per column ({q.Columns}).", nameof(q));
        MatrixArguments.RequireShape(w.Length, q.Rows, q.Columns, nameof(w));
        Quantizer.Dequantize(q.Codes, q.Scale, w);
    }

    public void DequantizeRow(QuantizedMatrix q, int row, Span<float> w) =>
        Quantizer.Dequantize(q.Codes.AsSpan(row * q.WordsPerRow, q.Columns), q.Scale, w[..q.Columns]);
}
