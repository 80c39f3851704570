using System.Numerics.Tensors;

namespace Caldera.Compiler.LinearAlgebra;

/// <summary>
/// Householder reduction of a symmetric matrix to tridiagonal form, A = Q·T·Qᵀ, with T = tridiag(e, d, e).
/// Step k reflects rows/columns k+1..n−1 with P_k = I − τ·v·vᵀ chosen so that P_k zeroes A[k+2:, k]; the
/// trailing block S is updated as S − v·wᵀ − w·vᵀ with p = τ·S·v, w = p − (τ/2)(pᵀv)·v.
/// </summary>
internal static class Tridiagonalization
{
    /// <summary>Reduces <paramref name="a"/> (destroyed) and returns d (n), e (n, e[i] couples i and i+1, e[n−1] = 0)
    /// and, when asked for, Qᵀ (n×n), whose rows the QL iteration then rotates into eigenvectors.</summary>
    public static (double[] D, double[] E, Matrix<double>? QTransposed) Reduce(Matrix<double> a, bool withQ, int threads)
    {
        int n = a.Rows;
        double[] w = a.Data;
        var d = new double[n];
        var e = new double[n];
        var tau = new double[n];
        var p = new double[n];
        for (int k = 0; k + 2 < n; k++)
        {
            // By symmetry the column below the diagonal is row k to the right of it; v overwrites it there.
            Span<double> x = w.AsSpan((k * n) + k + 1, n - k - 1);
            double norm = Math.Sqrt(TensorPrimitives.Dot(x, x));
            d[k] = w[(k * n) + k];
            if (norm == 0)
            {
                e[k] = 0;
                tau[k] = 0;
                continue;
            }

            double alpha = x[0] > 0 ? -norm : norm;
            e[k] = alpha;
            x[0] -= alpha;
            tau[k] = 2 / TensorPrimitives.Dot(x, x);
            UpdateTrailing(w, n, k, tau[k], p, threads);
        }

        if (n >= 2)
        {
            d[n - 2] = w[((n - 2) * n) + n - 2];
            e[n - 2] = w[((n - 2) * n) + n - 1];
        }

        if (n >= 1)
        {
            d[n - 1] = w[(n * n) - 1];
        }

        return (d, e, withQ ? AccumulateQ(w, n, tau, threads).Transpose() : null);
    }

    // S = W[k+1:, k+1:], v = W[k, k+1:]:  p = τ·S·v;  w = p − (τ/2)(pᵀv)·v;  S ← S − v·wᵀ − w·vᵀ.
    private static void UpdateTrailing(double[] w, int n, int k, double tau, double[] pBuffer, int threads)
    {
        int r = n - k - 1;
        int offset = k + 1;
        ReadOnlySpan<double> v = w.AsSpan((k * n) + offset, r);
        double[] vCopy = v.ToArray();
        int parts = Math.Max(1, Math.Min(threads, r / 128));
        Parallelism.For(parts, threads, part =>
        {
            (int start, int end) = Parallelism.Range(part, parts, r);
            for (int i = start; i < end; i++)
            {
                pBuffer[i] = tau * TensorPrimitives.Dot(w.AsSpan(((offset + i) * n) + offset, r), vCopy);
            }
        });

        Span<double> p = pBuffer.AsSpan(0, r);
        double half = 0.5 * tau * TensorPrimitives.Dot(p, vCopy);
        TensorPrimitives.MultiplyAdd(vCopy, -half, p, p);
        double[] wVec = p.ToArray();
        Parallelism.For(parts, threads, part =>
        {
            (int start, int end) = Parallelism.Range(part, parts, r);
            for (int i = start; i < end; i++)
            {
                Span<double> row = w.AsSpan(((offset + i) * n) + offset, r);
                TensorPrimitives.MultiplyAdd(wVec, -vCopy[i], row, row);
                TensorPrimitives.MultiplyAdd(vCopy, -wVec[i], row, row);
            }
        });
    }

    // Q = P_0·P_1···P_{n−3}, applied backwards to I so each P_k only touches the block Q[k+1:, k+1:]:
    // y = vᵀ·Q_block, Q_block −= τ·v·y. Threads split the columns of the block.
    private static Matrix<double> AccumulateQ(double[] w, int n, double[] tau, int threads)
    {
        var q = Matrix<double>.Identity(n);
        double[] qd = q.Data;
        for (int k = n - 3; k >= 0; k--)
        {
            if (tau[k] == 0)
            {
                continue;
            }

            int offset = k + 1;
            int r = n - offset;
            double[] v = w.AsSpan((k * n) + offset, r).ToArray();
            double tk = tau[k];
            int parts = Math.Max(1, Math.Min(threads, r / 256));
            Parallelism.For(parts, threads, part =>
            {
                (int c0, int c1) = Parallelism.Range(part, parts, r);
                int width = c1 - c0;
                var y = new double[width];
                for (int i = 0; i < r; i++)
                {
                    TensorPrimitives.MultiplyAdd(qd.AsSpan(((offset + i) * n) + offset + c0, width), v[i], y, y);
                }

                for (int i = 0; i < r; i++)
                {
                    Span<double> row = qd.AsSpan(((offset + i) * n) + offset + c0, width);
                    TensorPrimitives.MultiplyAdd(y, -tk * v[i], row, row);
                }
            });
        }

        return q;
    }
}
