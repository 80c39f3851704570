namespace Caldera.Compiler.LinearAlgebra;

/// <summary>How <see cref="LeastSquares.Solve"/> obtained its answer.</summary>
internal enum LeastSquaresMethod
{
    /// <summary>Cholesky of AᵀA in double: fast, accurate while κ(A)² stays well inside double precision.</summary>
    NormalEquations,

    /// <summary>X = A⁺·B from the thin SVD, singular values below the cut-off dropped: used when AᵀA is singular,
    /// ill-conditioned, or the normal equations produced NaN/Inf.</summary>
    PseudoInverse,
}

/// <summary>The minimiser X of ‖A·X − B‖_F and the route that produced it.</summary>
internal sealed record LeastSquaresSolution(Matrix<double> X, LeastSquaresMethod Method);

/// <summary>
/// min_X ‖A·X − B‖_F for tall A (m×n, m ≥ n) and B (m×r): the CALDERA factor updates (L from (R·S)ᵀ·Lᵀ = (A·S)ᵀ,
/// R from L·R = A). First the normal equations AᵀA·X = AᵀB with DGEMM and Cholesky; when that factorisation fails
/// or looks ill-conditioned, or yields non-finite values, the pseudo-inverse X = V·Σ⁺·Uᵀ·B, which returns the
/// minimum-norm solution of a rank-deficient problem.
/// </summary>
internal static class LeastSquares
{
    // The normal equations square the condition number: with κ(AᵀA) ≤ 1e10 their relative error stays ≲ κ·ε ≈ 2e-6,
    // below the fp32/4-bit noise of the factors they feed; beyond that the SVD route is the accurate one.
    // κ(AᵀA) is estimated from the Cholesky diagonal as (max C_ii / min C_ii)², a lower bound on the true value.
    private const double MaxNormalEquationsCondition = 1e10;

    public static LeastSquaresSolution Solve(Matrix<double> a, Matrix<double> b, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        Parallelism.ThrowIfInvalid(threads);
        if (a.Rows != b.Rows)
        {
            throw new ArgumentException($"A·X = B needs equal row counts, got A {a.Rows}×{a.Cols} and B {b.Rows}×{b.Cols}.");
        }

        if (a.Rows < a.Cols)
        {
            throw new ArgumentException($"least squares needs a tall A (rows ≥ columns), got {a.Rows}×{a.Cols}.", nameof(a));
        }

        ThrowIfNonFinite(a, nameof(a));
        ThrowIfNonFinite(b, nameof(b));
        Matrix<double>? x = TryNormalEquations(a, b, threads);
        if (x is not null)
        {
            return new LeastSquaresSolution(x, LeastSquaresMethod.NormalEquations);
        }

        return new LeastSquaresSolution(PseudoInverseSolve(a, b, threads), LeastSquaresMethod.PseudoInverse);
    }

    /// <summary>X = A⁺·B through the thin SVD, dropping σ_i ≤ max(m, n)·ε·σ₁ (numerical rank, as LAPACK's default).</summary>
    public static Matrix<double> PseudoInverseSolve(Matrix<double> a, Matrix<double> b, int threads = 1)
    {
        SingularValueDecomposition svd = ThinSvd.Decompose(a, threads);
        double cutoff = svd.Rank == 0 ? 0 : Math.Max(a.Rows, a.Cols) * 2.220446049250313e-16 * svd.S[0];
        Matrix<double> utb = Gemm.Multiply(Op.T, svd.U, Op.N, b, threads);
        for (int i = 0; i < utb.Rows; i++)
        {
            double inverse = svd.S[i] > cutoff ? 1 / svd.S[i] : 0;
            Span<double> row = utb.Row(i);
            for (int j = 0; j < row.Length; j++)
            {
                row[j] *= inverse;
            }
        }

        return Gemm.Multiply(svd.V, utb, threads);
    }

    private static Matrix<double>? TryNormalEquations(Matrix<double> a, Matrix<double> b, int threads)
    {
        Matrix<double> gram = Gemm.Multiply(Op.T, a, Op.N, a, threads);
        if (!Cholesky.TryFactor(gram, out Matrix<double>? c, threads))
        {
            return null;
        }

        double maxDiagonal = 0, minDiagonal = double.PositiveInfinity;
        for (int i = 0; i < c.Rows; i++)
        {
            maxDiagonal = Math.Max(maxDiagonal, c[i, i]);
            minDiagonal = Math.Min(minDiagonal, c[i, i]);
        }

        double ratio = maxDiagonal / minDiagonal;
        if (c.Rows > 0 && !(ratio * ratio <= MaxNormalEquationsCondition))
        {
            return null;
        }

        Matrix<double> x = Gemm.Multiply(Op.T, a, Op.N, b, threads);
        TriangularSolve.SolveLower(c, x, threads: threads);
        TriangularSolve.SolveLowerTransposed(c, x, threads: threads);
        foreach (double value in x.Data)
        {
            if (!double.IsFinite(value))
            {
                return null;
            }
        }

        return x;
    }

    private static void ThrowIfNonFinite(Matrix<double> m, string name)
    {
        foreach (double x in m.Data)
        {
            if (!double.IsFinite(x))
            {
                throw new ArgumentException($"least squares input {name} has a non-finite entry ({x}).", name);
            }
        }
    }
}
