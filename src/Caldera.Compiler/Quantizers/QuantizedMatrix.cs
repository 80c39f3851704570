namespace Caldera.Compiler.Quantizers;

/// <summary>
/// A row-major rows×columns matrix after quantization: its code words, one scale for the whole matrix and
/// the dequantized values. Ŵ[r, c] = <see cref="Scale"/> · decode(codes of row r)[c].
/// </summary>
internal sealed class QuantizedMatrix
{
    public QuantizedMatrix(int rows, int columns, int wordsPerRow, float scale, ushort[] codes, float[] dequantized)
    {
        if (codes.LongLength != (long)rows * wordsPerRow)
            throw new ArgumentException($"codes has {codes.LongLength} words; {rows} rows × {wordsPerRow} words needs {(long)rows * wordsPerRow}.", nameof(codes));
        if (dequantized.LongLength != (long)rows * columns)
            throw new ArgumentException($"dequantized has {dequantized.LongLength} values; {rows}×{columns} needs {(long)rows * columns}.", nameof(dequantized));
        Rows = rows;
        Columns = columns;
        WordsPerRow = wordsPerRow;
        Scale = scale;
        Codes = codes;
        Dequantized = dequantized;
    }

    public int Rows { get; }
    public int Columns { get; }

    /// <summary>16-bit code words per row; the quantizer defines their meaning.</summary>
    public int WordsPerRow { get; }

    /// <summary>The one global scale that multiplies decoded values.</summary>
    public float Scale { get; }

    /// <summary>Row r's words at [r·WordsPerRow, (r+1)·WordsPerRow).</summary>
    public ushort[] Codes { get; }

    /// <summary>Ŵ, row-major rows×columns.</summary>
    public float[] Dequantized { get; }
}
