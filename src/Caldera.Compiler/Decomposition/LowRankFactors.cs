using Caldera.Compiler.LinearAlgebra;
using Caldera.Compiler.Quantizers;

namespace Caldera.Compiler.Decomposition;

/// <summary>
/// L (m×k) and R (k×n) of W̃ ≈ Q + L·R, as the values the decomposition computed with and in their stored form:
/// 4-bit lattice codes (Lᵀ and R quantized row by row, 8-vectors along m for L and along n for R, one RMS scale
/// each) or IEEE half precision.
/// </summary>
internal sealed class LowRankFactors
{
    internal LowRankFactors(Matrix<float> l, Matrix<float> r, QuantizedMatrix? lTransposedCodes, QuantizedMatrix? rCodes, int bits)
    {
        L = l;
        R = r;
        LTransposedCodes = lTransposedCodes;
        RCodes = rCodes;
        Bits = bits;
    }

    public int Rank => R.Rows;

    /// <summary>4 (lattice codes) or 16 (half precision).</summary>
    public int Bits { get; }

    /// <summary>L as decoded, m×k.</summary>
    public Matrix<float> L { get; }

    /// <summary>R as decoded, k×n.</summary>
    public Matrix<float> R { get; }

    /// <summary>The codes of Lᵀ (k×m) when <see cref="Bits"/> is 4.</summary>
    public QuantizedMatrix? LTransposedCodes { get; }

    /// <summary>The codes of R (k×n) when <see cref="Bits"/> is 4.</summary>
    public QuantizedMatrix? RCodes { get; }

    /// <summary>An empty (rank 0) pair.</summary>
    internal static LowRankFactors Empty(int m, int n, int bits) => new(new Matrix<float>(m, 0), new Matrix<float>(0, n), null, null, bits);

    /// <summary>Rounds both factors to half precision (16-bit factors).</summary>
    internal static LowRankFactors ToHalf(Matrix<float> l, Matrix<float> r)
    {
        static Matrix<float> Round(Matrix<float> a)
        {
            var result = new Matrix<float>(a.Rows, a.Cols);
            for (int i = 0; i < a.Data.Length; i++) result.Data[i] = (float)(Half)a.Data[i];
            return result;
        }
        return new LowRankFactors(Round(l), Round(r), null, null, 16);
    }

    /// <summary>L·R, m×n, into <paramref name="product"/>, which is returned.</summary>
    internal Matrix<float> Product(Matrix<float> product, int threads)
    {
        if (Rank == 0) product.Data.AsSpan().Clear();
        else Gemm.Multiply(Op.N, L, Op.N, R, 1f, 0f, product, threads);
        return product;
    }
}
