using System.Numerics.Tensors;

namespace Caldera.Compiler.LinearAlgebra;

/// <summary>An extremal eigenvalue estimate: the Ritz value θ and the bound ‖A·y − θ·y‖ on its Ritz vector y,
/// so some eigenvalue of A lies within <see cref="ResidualNorm"/> of <see cref="Value"/>.</summary>
public readonly record struct EigenvalueEstimate(double Value, double ResidualNorm, int Iterations);

/// <summary>
/// Lanczos with full reorthogonalisation for one extremal eigenvalue of a symmetric n×n matrix: j steps cost
/// j symmetric matrix–vector products (n² each) plus O(j·n) reorthogonalisation, far below an O(n³)
/// eigendecomposition. The smallest Ritz value is an upper bound on λ_min that converges to it from above.
/// </summary>
public static class Lanczos
{
    /// <summary>λ_min(A) to within <paramref name="relativeTolerance"/>·‖A‖ (estimated), or the best estimate after
    /// <paramref name="maxIterations"/> steps; only the lower triangle of A is read.</summary>
    public static EigenvalueEstimate Smallest(
        Matrix<double> a, int maxIterations = 200, double relativeTolerance = 1e-10, ulong seed = 42, int threads = 1)
        => Extremal(a, largest: false, maxIterations, relativeTolerance, seed, threads);

    /// <summary>λ_max(A), the mirror of <see cref="Smallest"/>.</summary>
    public static EigenvalueEstimate Largest(
        Matrix<double> a, int maxIterations = 200, double relativeTolerance = 1e-10, ulong seed = 42, int threads = 1)
        => Extremal(a, largest: true, maxIterations, relativeTolerance, seed, threads);

    private static EigenvalueEstimate Extremal(
        Matrix<double> a, bool largest, int maxIterations, double relativeTolerance, ulong seed, int threads)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxIterations, 1);
        Parallelism.ThrowIfInvalid(threads);
        if (a.Rows != a.Cols || a.Rows == 0)
        {
            throw new ArgumentException($"Lanczos needs a non-empty square matrix, got {a.Rows}×{a.Cols}.", nameof(a));
        }

        int n = a.Rows;
        Matrix<double> symmetric = MirrorLower(a);
        int steps = Math.Min(maxIterations, n);
        var basis = new Matrix<double>(steps, n);
        var alpha = new double[steps];
        var beta = new double[steps];
        var random = new GaussianRandom(seed);
        Span<double> q0 = basis.Row(0);
        for (int i = 0; i < n; i++)
        {
            q0[i] = random.Next();
        }

        TensorPrimitives.Divide(q0, TensorPrimitives.Norm(q0), q0);
        var w = new double[n];
        EigenvalueEstimate estimate = default;
        for (int j = 0; j < steps; j++)
        {
            SymmetricMultiply(symmetric, basis.Row(j), w, threads);
            alpha[j] = TensorPrimitives.Dot(w, basis.Row(j));

            // Full reorthogonalisation (twice, "twice is enough") keeps the basis orthonormal in floating point,
            // which plain three-term Lanczos loses as soon as a Ritz value converges.
            for (int pass = 0; pass < 2; pass++)
            {
                for (int p = 0; p <= j; p++)
                {
                    ReadOnlySpan<double> qp = basis.Row(p);
                    TensorPrimitives.MultiplyAdd(qp, -TensorPrimitives.Dot(w, qp), w, w);
                }
            }

            double norm = TensorPrimitives.Norm(w);
            estimate = RitzEstimate(alpha, beta, j + 1, norm, largest);
            double scale = Math.Max(Math.Abs(alpha[0]), Math.Abs(estimate.Value));
            if (estimate.ResidualNorm <= relativeTolerance * Math.Max(scale, double.Epsilon) || j + 1 == steps || norm == 0)
            {
                return estimate;
            }

            beta[j] = norm;
            TensorPrimitives.Divide(w, norm, basis.Row(j + 1));
        }

        return estimate;
    }

    // Eigen-pair of the j×j tridiagonal T_j = tridiag(β, α, β): θ and |β_j·s_j| (s_j the last component of T_j's
    // eigenvector), which equals ‖A·y − θ·y‖ for the Ritz vector y when the basis is orthonormal. Only the last
    // components are needed, so the QL rotations run on the single column e_j of Zᵀ: O(j²) instead of O(j³).
    private static EigenvalueEstimate RitzEstimate(double[] alpha, double[] beta, int j, double nextBeta, bool largest)
    {
        var d = alpha.AsSpan(0, j).ToArray();
        var e = new double[j];
        beta.AsSpan(0, j - 1).CopyTo(e);
        var lastComponents = new Matrix<double>(j, 1);
        lastComponents[j - 1, 0] = 1;
        TridiagonalQl.Diagonalize(d, e, lastComponents, threads: 1);
        int best = 0;
        for (int i = 1; i < j; i++)
        {
            if (largest ? d[i] > d[best] : d[i] < d[best])
            {
                best = i;
            }
        }

        return new EigenvalueEstimate(d[best], Math.Abs(nextBeta * lastComponents[best, 0]), j);
    }

    private static void SymmetricMultiply(Matrix<double> a, ReadOnlySpan<double> x, double[] y, int threads)
    {
        int n = a.Rows;
        double[] xs = x.ToArray();
        int parts = Math.Max(1, Math.Min(threads, n / 256));
        Parallelism.For(parts, threads, part =>
        {
            (int start, int end) = Parallelism.Range(part, parts, n);
            for (int i = start; i < end; i++)
            {
                y[i] = TensorPrimitives.Dot(a.Data.AsSpan(i * n, n), xs);
            }
        });
    }

    private static Matrix<double> MirrorLower(Matrix<double> a)
    {
        int n = a.Rows;
        var s = new Matrix<double>(n, n);
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                s.Data[(i * n) + j] = a.Data[(i * n) + j];
                s.Data[(j * n) + i] = a.Data[(i * n) + j];
            }
        }

        return s;
    }
}
