namespace Caldera.Compiler.Quantizers;

/// <summary>
/// Quantizes a whole row-major matrix with one global scale, so round-to-nearest baselines, E8P and the
/// 4-bit residual code are interchangeable wherever the decomposition quantizes a matrix (L, R, or an RTN Q).
/// </summary>
internal interface IMatrixQuantizer
{
    /// <summary>Storage cost per weight, excluding the one scale per matrix.</summary>
    double BitsPerWeight { get; }

    /// <summary>Quantizes the rows×columns matrix <paramref name="w"/> (row-major). Throws on NaN/Inf.</summary>
    QuantizedMatrix Quantize(ReadOnlyMemory<float> w, int rows, int columns);

    /// <summary>Rebuilds Ŵ from <paramref name="q"/>'s codes and scale into <paramref name="w"/> (rows×columns).</summary>
    void Dequantize(QuantizedMatrix q, Span<float> w);

    /// <summary>Rebuilds row <paramref name="row"/> of Ŵ (length columns) from its codes alone.</summary>
    void DequantizeRow(QuantizedMatrix q, int row, Span<float> w);
}
