namespace Caldera.Compiler.LinearAlgebra;

/// <summary>
/// Eigendecomposition A = V·diag(λ)·Vᵀ of a symmetric matrix in double: Householder tridiagonalisation
/// (4n³/3 flops) then implicit QL with the eigenvector rotations applied to Vᵀ's contiguous rows.
/// Eigenvalues ascending; V's columns orthonormal.
/// </summary>
internal sealed class SymmetricEigen
{
    private SymmetricEigen(double[] values, Matrix<double> vectors)
    {
        Values = values;
        Vectors = vectors;
    }

    /// <summary>λ, ascending.</summary>
    public double[] Values { get; }

    /// <summary>V, n×n; column i is the unit eigenvector of Values[i].</summary>
    public Matrix<double> Vectors { get; }

    /// <summary>Decomposes <paramref name="a"/> (only its lower triangle is read; the input is not modified).</summary>
    public static SymmetricEigen Decompose(Matrix<double> a, int threads = 1)
    {
        Matrix<double> w = CheckedSymmetricCopy(a, threads);
        (double[] d, double[] e, Matrix<double>? vt) = Tridiagonalization.Reduce(w, withQ: true, threads);
        TridiagonalQl.Diagonalize(d, e, vt, threads);

        int n = d.Length;
        int[] order = SortedOrder(d);
        var values = new double[n];
        var vectors = new Matrix<double>(n, n);
        for (int j = 0; j < n; j++)
        {
            values[j] = d[order[j]];
            ReadOnlySpan<double> row = vt!.Row(order[j]);
            for (int i = 0; i < n; i++)
            {
                vectors.Data[(i * n) + j] = row[i];
            }
        }

        return new SymmetricEigen(values, vectors);
    }

    /// <summary>Eigenvalues only (ascending): skips accumulating Q and rotating eigenvectors.</summary>
    public static double[] Eigenvalues(Matrix<double> a, int threads = 1)
    {
        Matrix<double> w = CheckedSymmetricCopy(a, threads);
        (double[] d, double[] e, _) = Tridiagonalization.Reduce(w, withQ: false, threads);
        TridiagonalQl.Diagonalize(d, e, null, threads);
        Array.Sort(d);
        return d;
    }

    internal static int[] SortedOrder(double[] values)
    {
        int[] order = Enumerable.Range(0, values.Length).ToArray();
        Array.Sort(order, (x, y) => values[x] != values[y] ? values[x].CompareTo(values[y]) : x.CompareTo(y));
        return order;
    }

    // Mirrors the lower triangle into a full copy (the reduction reads whole rows) and rejects NaN/Inf, which
    // would otherwise surface as a non-converging QL iteration.
    private static Matrix<double> CheckedSymmetricCopy(Matrix<double> a, int threads)
    {
        ArgumentNullException.ThrowIfNull(a);
        Parallelism.ThrowIfInvalid(threads);
        if (a.Rows != a.Cols)
        {
            throw new ArgumentException($"a symmetric eigendecomposition needs a square matrix, got {a.Rows}×{a.Cols}.", nameof(a));
        }

        int n = a.Rows;
        var w = new Matrix<double>(n, n);
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                double x = a.Data[(i * n) + j];
                if (!double.IsFinite(x))
                {
                    throw new ArgumentException($"the matrix has a non-finite entry {x} at ({i}, {j}).", nameof(a));
                }

                w.Data[(i * n) + j] = x;
                w.Data[(j * n) + i] = x;
            }
        }

        return w;
    }
}
