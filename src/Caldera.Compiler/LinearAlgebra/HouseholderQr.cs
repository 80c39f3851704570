using System.Numerics.Tensors;

namespace Caldera.Compiler.LinearAlgebra;

/// <summary>
/// Thin QR factorisation A = Q·R of a tall m×n matrix (m ≥ n) by Householder reflections P_j = I − τ_j·v_j·v_jᵀ:
/// Q (m×n) has orthonormal columns even when A is rank-deficient, R (n×n) is upper triangular. Reflections are
/// applied as row operations (y = vᵀ·A_block, A_block −= τ·v·y) so the row-major storage is read contiguously;
/// threads split the columns.
/// </summary>
internal static class HouseholderQr
{
    public static (Matrix<double> Q, Matrix<double> R) Decompose(Matrix<double> a, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(a);
        Parallelism.ThrowIfInvalid(threads);
        int m = a.Rows;
        int n = a.Cols;
        if (m < n)
        {
            throw new ArgumentException($"thin QR needs a tall matrix (rows ≥ columns), got {m}×{n}; factor the transpose.", nameof(a));
        }

        Matrix<double> w = a.Clone();
        var tau = new double[n];
        var r = new Matrix<double>(n, n);
        var v = new double[m];
        for (int j = 0; j < n; j++)
        {
            int len = m - j;
            for (int i = 0; i < len; i++)
            {
                v[i] = w.Data[((j + i) * n) + j];
            }

            Span<double> vj = v.AsSpan(0, len);
            double norm = TensorPrimitives.Norm(vj);
            if (norm == 0)
            {
                tau[j] = 0;
            }
            else
            {
                double alpha = vj[0] > 0 ? -norm : norm;
                vj[0] -= alpha;
                tau[j] = 2 / TensorPrimitives.Dot(vj, vj);
                w.Data[(j * n) + j] = alpha;
                Reflect(w.Data, n, j, j + 1, n - j - 1, vj, tau[j], threads);
            }

            // Row j now holds R's row j; below the diagonal the column keeps v_j for forming Q.
            w.Data.AsSpan((j * n) + j, n - j).CopyTo(r.Data.AsSpan((j * n) + j, n - j));
            for (int i = 1; i < len; i++)
            {
                w.Data[((j + i) * n) + j] = vj[i];
            }

            w.Data[(j * n) + j] = vj[0];
        }

        return (FormQ(w, tau, threads), r);
    }

    // Q = P_0···P_{n−1}·[I_n; 0], applied right to left; P_j touches rows j.. and (by then) columns j.. only.
    private static Matrix<double> FormQ(Matrix<double> w, double[] tau, int threads)
    {
        int m = w.Rows;
        int n = w.Cols;
        var q = new Matrix<double>(m, n);
        for (int i = 0; i < n; i++)
        {
            q.Data[(i * n) + i] = 1;
        }

        var v = new double[m];
        for (int j = n - 1; j >= 0; j--)
        {
            if (tau[j] == 0)
            {
                continue;
            }

            int len = m - j;
            for (int i = 0; i < len; i++)
            {
                v[i] = w.Data[((j + i) * n) + j];
            }

            Reflect(q.Data, n, j, j, n - j, v.AsSpan(0, len), tau[j], threads);
        }

        return q;
    }

    // X[row0:row0+len(v), col0:col0+width] −= τ·v·(vᵀ·X_block), X row-major with leading dimension ld.
    internal static void Reflect(double[] x, int ld, int row0, int col0, int width, ReadOnlySpan<double> v, double tau, int threads)
    {
        if (width <= 0)
        {
            return;
        }

        double[] vs = v.ToArray();
        int parts = Math.Max(1, Math.Min(threads, (int)Math.Min(width / 32, (long)vs.Length * width / 65536)));
        Parallelism.For(parts, threads, part =>
        {
            (int c0, int c1) = Parallelism.Range(part, parts, width);
            var y = new double[c1 - c0];
            for (int i = 0; i < vs.Length; i++)
            {
                if (vs[i] != 0)
                {
                    TensorPrimitives.MultiplyAdd(x.AsSpan(((row0 + i) * ld) + col0 + c0, y.Length), vs[i], y, y);
                }
            }

            for (int i = 0; i < vs.Length; i++)
            {
                if (vs[i] != 0)
                {
                    Span<double> row = x.AsSpan(((row0 + i) * ld) + col0 + c0, y.Length);
                    TensorPrimitives.MultiplyAdd(y, -tau * vs[i], row, row);
                }
            }
        });
    }
}
