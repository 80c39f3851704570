using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Numerics.Tensors;

namespace Caldera.Compiler.LinearAlgebra;

/// <summary>
/// Cholesky factorisation H = C·Cᵀ of a symmetric positive definite matrix (C lower triangular), in double (and in
/// fp32 for BlockLDLQ, as QuIP# factors H_q).
/// Blocked left-looking: for each column panel j, A[j:, j] −= C[j:, :j]·C[j, :j]ᵀ runs as one DGEMM with the long
/// inner dimension, then the diagonal block is factored and the rows below are forward-substituted.
/// </summary>
internal static class Cholesky
{
    // 128 doubles wide: the panel update has k = j large and n = 128, enough columns for the GEMM tile to amortise
    // packing; the unblocked diagonal factorisation (n·128²/3 flops in all) stays small.
    private const int PanelWidth = 128;

    /// <summary>
    /// Factors <paramref name="h"/> (only its lower triangle is read). Returns false, with <paramref name="lower"/>
    /// null, when a pivot is not positive and finite, i.e. H is not numerically positive definite: callers retry
    /// with more damping instead of catching an exception.
    /// </summary>
    public static bool TryFactor(Matrix<double> h, [NotNullWhen(true)] out Matrix<double>? lower, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(h);
        if (h.Rows != h.Cols)
        {
            throw new ArgumentException($"Cholesky needs a square matrix, got {h.Rows}×{h.Cols}.", nameof(h));
        }

        Parallelism.ThrowIfInvalid(threads);
        Matrix<double> c = h.Clone();
        if (!TryFactorInPlace(c.Data, c.Rows, threads))
        {
            lower = null;
            return false;
        }

        lower = c;
        return true;
    }

    /// <summary>
    /// <see cref="TryFactor"/> without the copy: on success the lower triangle of <paramref name="a"/> (n×n,
    /// row-major) holds C and the strict upper triangle is zeroed; on failure <paramref name="a"/> is overwritten.
    /// </summary>
    internal static bool TryFactorInPlace<T>(T[] a, int n, int threads) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int j0 = 0; j0 < n; j0 += PanelWidth)
        {
            int jb = Math.Min(PanelWidth, n - j0);
            if (j0 > 0)
            {
                // A[j0:n, j0:j0+jb] −= C[j0:n, 0:j0] · C[j0:j0+jb, 0:j0]ᵀ  (operands and result do not overlap).
                Gemm.Multiply(
                    Op.N, Op.T, n - j0, jb, j0,
                    -T.One, a.AsSpan(j0 * n), n, a.AsSpan(j0 * n), n,
                    T.One, a.AsSpan((j0 * n) + j0), n, threads);
            }

            if (!FactorDiagonalBlock(a, n, j0, jb))
            {
                return false;
            }

            SolvePanelRows(a, n, j0, jb, threads);
        }

        for (int i = 0; i < n; i++)
        {
            a.AsSpan((i * n) + i + 1, n - i - 1).Clear();
        }

        return true;
    }

    // Unblocked Cholesky of the jb×jb block at (j0, j0), whose contributions from columns < j0 are already removed.
    private static bool FactorDiagonalBlock<T>(T[] a, int n, int j0, int jb) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int j = j0; j < j0 + jb; j++)
        {
            ReadOnlySpan<T> rowJ = a.AsSpan((j * n) + j0, j - j0);
            T pivot = a[(j * n) + j] - TensorPrimitives.Dot(rowJ, rowJ);
            if (!(pivot > T.Zero) || !T.IsFinite(pivot))
            {
                return false;
            }

            T cjj = T.Sqrt(pivot);
            a[(j * n) + j] = cjj;
            for (int i = j + 1; i < j0 + jb; i++)
            {
                ReadOnlySpan<T> rowI = a.AsSpan((i * n) + j0, j - j0);
                a[(i * n) + j] = (a[(i * n) + j] - TensorPrimitives.Dot(rowI, rowJ)) / cjj;
            }
        }

        return true;
    }

    // Rows below the block: x·C11ᵀ = a, i.e. C11·xᵀ = aᵀ, solved by forward substitution for each row independently.
    private static void SolvePanelRows<T>(T[] a, int n, int j0, int jb, int threads) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = n - j0 - jb;
        if (rows <= 0)
        {
            return;
        }

        int parts = Math.Min(threads, rows);
        Parallelism.For(parts, threads, part =>
        {
            (int start, int end) = Parallelism.Range(part, parts, rows);
            for (int i = j0 + jb + start; i < j0 + jb + end; i++)
            {
                Span<T> x = a.AsSpan((i * n) + j0, jb);
                for (int j = 0; j < jb; j++)
                {
                    ReadOnlySpan<T> cRow = a.AsSpan(((j0 + j) * n) + j0, j);
                    x[j] = (x[j] - TensorPrimitives.Dot(cRow, x[..j])) / a[((j0 + j) * n) + j0 + j];
                }
            }
        });
    }
}
