using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Compiler.Decomposition;

/// <summary>
/// A symmetric n×n Hessian that BlockLDLQ reads a panel of rows at a time, in fp64, instead of as one whole matrix:
/// BlockLDLQ keeps H only in fp32, and a whole fp64 H_q beside it would be 8·n² bytes (1.6 GB at ffn_down's n = 14336).
/// </summary>
internal abstract class HessianRows
{
    protected HessianRows(int dimension) => Dimension = dimension;

    /// <summary>n.</summary>
    public int Dimension { get; }

    /// <summary>Σ H_ii / n, summed in i order in fp64.</summary>
    public abstract double MeanDiagonal { get; }

    /// <summary>Writes rows [<paramref name="first"/>, <paramref name="first"/> + <paramref name="count"/>) of H, count×n row-major, over <paramref name="destination"/>.</summary>
    public abstract void CopyRows(int first, int count, Span<double> destination);

    /// <summary>The rows of a whole fp64 matrix.</summary>
    public static HessianRows Of(Matrix<double> h) => new Dense(h);

    private sealed class Dense(Matrix<double> h) : HessianRows(h.Rows)
    {
        public override double MeanDiagonal
        {
            get
            {
                double sum = 0;
                for (int i = 0; i < Dimension; i++) sum += h[i, i];
                return sum / Dimension;
            }
        }

        public override void CopyRows(int first, int count, Span<double> destination) =>
            h.Data.AsSpan(first * Dimension, count * Dimension).CopyTo(destination);
    }
}
