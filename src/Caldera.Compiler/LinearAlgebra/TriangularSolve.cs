using System.Numerics.Tensors;

namespace Caldera.Compiler.LinearAlgebra;

/// <summary>
/// Triangular solves with matrix right-hand sides, overwriting B (n×r) with X. Substitution runs over whole
/// rows of X (vectorised along the r right-hand sides); threads split the columns of B, so every element sees
/// the same arithmetic for any thread count.
/// </summary>
internal static class TriangularSolve
{
    /// <summary>Forward substitution: L·X = B with L n×n lower triangular (its upper triangle is ignored).</summary>
    public static void SolveLower(Matrix<double> lower, Matrix<double> b, bool unitDiagonal = false, int threads = 1)
        => Solve(lower, b, Shape.Lower, unitDiagonal, threads);

    /// <summary>Back substitution: Lᵀ·X = B with L n×n lower triangular (e.g. the second half of a Cholesky solve).</summary>
    public static void SolveLowerTransposed(Matrix<double> lower, Matrix<double> b, bool unitDiagonal = false, int threads = 1)
        => Solve(lower, b, Shape.LowerTransposed, unitDiagonal, threads);

    /// <summary>
    /// <see cref="SolveLowerTransposed(Matrix{double}, Matrix{double}, bool, int)"/> with L packed as a triangle: the same
    /// arithmetic in the same order (its elements are read where the packing put them), so the same X bit for bit.
    /// </summary>
    public static void SolveLowerTransposed(PackedLowerTriangular<double> lower, Matrix<double> b, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(lower);
        ArgumentNullException.ThrowIfNull(b);
        if (b.Rows != lower.N)
        {
            throw new ArgumentException($"a triangular solve needs n-row right-hand sides, got {b.Rows}×{b.Cols} for n = {lower.N}.");
        }

        Solve(new PackedTriangle(lower), lower.N, b, Shape.LowerTransposed, unitDiagonal: false, threads);
    }

    /// <summary>Back substitution: U·X = B with U n×n upper triangular (its lower triangle is ignored).</summary>
    public static void SolveUpper(Matrix<double> upper, Matrix<double> b, bool unitDiagonal = false, int threads = 1)
        => Solve(upper, b, Shape.Upper, unitDiagonal, threads);

    private enum Shape
    {
        Lower,
        LowerTransposed,
        Upper,
    }

    private static void Solve(Matrix<double> t, Matrix<double> b, Shape shape, bool unitDiagonal, int threads)
    {
        ArgumentNullException.ThrowIfNull(t);
        ArgumentNullException.ThrowIfNull(b);
        if (t.Rows != t.Cols || b.Rows != t.Rows)
        {
            throw new ArgumentException(
                $"a triangular solve needs an n×n matrix and n-row right-hand sides, got {t.Rows}×{t.Cols} and {b.Rows}×{b.Cols}.");
        }

        Solve(new DenseTriangle(t.Data, t.Rows), t.Rows, b, shape, unitDiagonal, threads);
    }

    private static void Solve<TTriangle>(TTriangle t, int n, Matrix<double> b, Shape shape, bool unitDiagonal, int threads)
        where TTriangle : struct, ITriangle
    {
        Parallelism.ThrowIfInvalid(threads);
        int r = b.Cols;
        int parts = Math.Max(1, Math.Min(threads, r / 64));
        Parallelism.For(parts, threads, part =>
        {
            (int c0, int c1) = Parallelism.Range(part, parts, r);
            if (c1 > c0)
            {
                SolveColumns(t, n, b.Data, r, c0, c1 - c0, shape, unitDiagonal);
            }
        });
    }

    // x_i = (b_i − Σ_p t_ip·x_p) / t_ii over p already solved, done as axpys on row segments [c0, c0+w) of X.
    private static void SolveColumns<TTriangle>(TTriangle t, int n, double[] x, int r, int c0, int w, Shape shape, bool unitDiagonal)
        where TTriangle : struct, ITriangle
    {
        bool forward = shape == Shape.Lower;
        for (int step = 0; step < n; step++)
        {
            int i = forward ? step : n - 1 - step;
            Span<double> xi = x.AsSpan((i * r) + c0, w);
            int pStart = forward ? 0 : i + 1;
            int pEnd = forward ? i : n;
            for (int p = pStart; p < pEnd; p++)
            {
                double tip = shape == Shape.LowerTransposed ? t[p, i] : t[i, p];
                if (tip != 0)
                {
                    TensorPrimitives.MultiplyAdd(x.AsSpan((p * r) + c0, w), -tip, xi, xi);
                }
            }

            if (!unitDiagonal)
            {
                TensorPrimitives.Divide(xi, t[i, i], xi);
            }
        }
    }

    /// <summary>How the substitution reads T: specialised per struct, so a dense T costs no more than indexing its array.</summary>
    private interface ITriangle
    {
        double this[int row, int col] { get; }
    }

    private readonly struct DenseTriangle(double[] t, int n) : ITriangle
    {
        public double this[int row, int col] => t[(row * n) + col];
    }

    private readonly struct PackedTriangle(PackedLowerTriangular<double> t) : ITriangle
    {
        public double this[int row, int col] => t[row, col];
    }
}
