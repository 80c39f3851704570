using System.Diagnostics.CodeAnalysis;
using System.Numerics;

namespace Caldera.Compiler.LinearAlgebra;

/// <summary>
/// Block LDLᵀ factorisation H = L·D·Lᵀ for BlockLDLQ: L unit block-lower-triangular (identity b×b diagonal
/// blocks), D block-diagonal with symmetric positive definite b×b blocks. Derived from C = chol(H):
/// D_j = C_jj·C_jjᵀ and L = C·blockdiag(C_jj⁻¹), so L·D·Lᵀ = C·Cᵀ = H.
/// </summary>
internal sealed class BlockLdl
{
    private BlockLdl(int blockSize, Matrix<double> lower, Matrix<double> diagonalBlocks)
    {
        BlockSize = blockSize;
        Lower = lower;
        DiagonalBlocks = diagonalBlocks;
    }

    /// <summary>b: the width of each diagonal block (8 for BlockLDLQ over E8 codewords).</summary>
    public int BlockSize { get; }

    /// <summary>L, n×n, unit block-lower-triangular: zero above the diagonal blocks, identity on them.</summary>
    public Matrix<double> Lower { get; }

    /// <summary>D's diagonal blocks stacked: n×b, rows [j·b, (j+1)·b) hold D_j.</summary>
    public Matrix<double> DiagonalBlocks { get; }

    /// <summary>
    /// Factors <paramref name="h"/> (n×n, n a multiple of <paramref name="blockSize"/>). Returns false when H is not
    /// numerically positive definite (the Cholesky factorisation failed), so callers can add damping and retry.
    /// </summary>
    public static bool TryDecompose(Matrix<double> h, int blockSize, [NotNullWhen(true)] out BlockLdl? ldl, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(h);
        Validate(h, blockSize);
        return TryDecomposeInPlace(h.Clone(), blockSize, out ldl, threads);
    }

    /// <summary>
    /// <see cref="TryDecompose"/> in <paramref name="h"/>'s own storage, which becomes <see cref="Lower"/> on success
    /// and is overwritten on failure: for callers that no longer need H (a 4096² H is 128 MB to copy).
    /// </summary>
    internal static bool TryDecomposeInPlace(Matrix<double> h, int blockSize, [NotNullWhen(true)] out BlockLdl? ldl, int threads = 1)
    {
        Validate(h, blockSize);
        ldl = null;
        if (!Cholesky.TryFactorInPlace(h.Data, h.Rows, threads))
        {
            return false;
        }

        Matrix<double> c = h;   // now C = chol(H)
        int n = h.Rows;
        int b = blockSize;
        var d = new Matrix<double>(n, b);
        for (int j0 = 0; j0 < n; j0 += b)
        {
            // D_j = C_jj·C_jjᵀ (C_jj lower triangular, so the sum stops at min(i, q)).
            for (int i = 0; i < b; i++)
            {
                for (int q = 0; q < b; q++)
                {
                    double sum = 0;
                    for (int p = 0; p <= Math.Min(i, q); p++)
                    {
                        sum += c[j0 + i, j0 + p] * c[j0 + q, j0 + p];
                    }

                    d[j0 + i, q] = sum;
                }
            }
        }

        ToUnitBlockLower(c.Data, n, b, threads);
        ldl = new BlockLdl(b, c, d);
        return true;
    }

    // Checked before TryDecompose copies H, so a wrong shape costs no copy.
    private static void Validate(Matrix<double> h, int blockSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        if (h.Rows != h.Cols || h.Rows % blockSize != 0)
        {
            throw new ArgumentException(
                $"block LDL needs a square matrix whose size is a multiple of the block size {blockSize}, got {h.Rows}×{h.Cols}.",
                nameof(h));
        }
    }

    /// <summary>
    /// Turns C = chol(H) (n×n row-major, n a multiple of b) into L = C·blockdiag(C_jj⁻¹) in place, the unit
    /// block-lower factor of H = L·D·Lᵀ.
    /// </summary>
    internal static void ToUnitBlockLower<T>(T[] c, int n, int b, int threads) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int parts = Math.Min(threads, n / b);
        Parallelism.For(parts, threads, part =>
        {
            (int start, int end) = Parallelism.Range(part, parts, n / b);
            for (int jBlock = start; jBlock < end; jBlock++)
            {
                ScaleBlockColumn(c, n, jBlock * b, b);
            }
        });
    }

    // L[:, j0:j0+b] = C[:, j0:j0+b]·C_jj⁻¹: each row x of the block column solves x·C_jj = c, i.e. C_jjᵀ·xᵀ = cᵀ
    // (back substitution, no explicit inverse). Rows above the block are zero in C and stay zero.
    private static void ScaleBlockColumn<T>(T[] c, int n, int j0, int b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = j0 + b; i < n; i++)
        {
            Span<T> x = c.AsSpan((i * n) + j0, b);
            for (int q = b - 1; q >= 0; q--)
            {
                T sum = x[q];
                for (int p = q + 1; p < b; p++)
                {
                    sum -= x[p] * c[((j0 + p) * n) + j0 + q];
                }

                x[q] = sum / c[((j0 + q) * n) + j0 + q];
            }
        }

        for (int i = j0; i < j0 + b; i++)
        {
            Span<T> x = c.AsSpan((i * n) + j0, b);
            x.Clear();
            x[i - j0] = T.One;
        }
    }
}
