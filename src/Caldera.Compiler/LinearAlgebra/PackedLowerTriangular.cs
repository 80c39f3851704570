using System.Numerics;

namespace Caldera.Compiler.LinearAlgebra;

/// <summary>
/// A lower-triangular n×n right operand C packed for A·C at half a dense product's cost: column panel J of the
/// product, (A·C)[:, J] = A[:, j₀:n]·C[j₀:n, J], only reads the rows of C at or below the panel's first column, so
/// each panel is packed (<see cref="Gemm.Pack{T}(Op, int, int, ReadOnlySpan{T}, int, int)"/>) without the zeros above
/// it and the product runs as one GEMM per panel with inner dimension n − j₀, bitwise the dense product.
/// </summary>
/// <remarks>
/// CALDERA's ‖X·C‖²_F = tr(X·H·Xᵀ) with H = C·Cᵀ (the activation-aware error, tr(A·H·Aᵀ)) and the LR initialisation's
/// A·C are n³-flop products with the same Cholesky factor in every outer iteration: packing C once and skipping its
/// upper half halves them. Holds about n²/2 + n·<see cref="PanelWidth"/>/2 elements.
/// </remarks>
public sealed class PackedLowerTriangular<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// Columns per panel: two of the GEMM's depth blocks (KC). Panels then start on KC boundaries, so each panel's
    /// product sums the same rows in the same KC blocks as the dense product, whose extra terms are exact zeros:
    /// the result is bitwise the dense A·C. Two blocks keep the triangle computed densely on each panel's diagonal
    /// block a small share of the work.
    /// </summary>
    internal static int PanelWidth => 2 * GemmDriver<T>.DepthBlock(GemmKernelKinds.Best);

    private readonly PackedGemmOperand<T>[] panels;

    private PackedLowerTriangular(int n, PackedGemmOperand<T>[] panels)
    {
        N = n;
        this.panels = panels;
    }

    /// <summary>n, C's order.</summary>
    public int N { get; }

    /// <summary>Packs the lower triangle of <paramref name="lower"/> (n×n; the strict upper triangle must be zero).</summary>
    public static PackedLowerTriangular<T> Pack(Matrix<T> lower, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(lower);
        int n = lower.Rows;
        if (lower.Cols != n)
        {
            throw new ArgumentException($"a triangular operand must be square, got {lower.Rows}×{lower.Cols}.", nameof(lower));
        }

        int panelWidth = PanelWidth;
        var panels = new PackedGemmOperand<T>[(n + panelWidth - 1) / panelWidth];
        for (int p = 0; p < panels.Length; p++)
        {
            int j0 = p * panelWidth, width = Math.Min(panelWidth, n - j0);
            panels[p] = Gemm.Pack(Op.N, n - j0, width, lower.Data.AsSpan((j0 * n) + j0), n, threads);
        }

        return new PackedLowerTriangular<T>(n, panels);
    }

    /// <summary>Y = A·C for A m×n (leading dimension <paramref name="lda"/>) into Y (m×n, leading dimension <paramref name="ldy"/>).</summary>
    public void MultiplyRight(int m, ReadOnlySpan<T> a, int lda, Span<T> y, int ldy, int threads = 1)
    {
        int panelWidth = PanelWidth;
        for (int p = 0; p < panels.Length; p++)
        {
            int j0 = p * panelWidth;
            Gemm.Multiply(Op.N, m, T.One, a[j0..], lda, panels[p], T.Zero, y[j0..], ldy, threads);
        }
    }

    /// <summary>Returns A·C.</summary>
    public Matrix<T> MultiplyRight(Matrix<T> a, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(a);
        if (a.Cols != N)
        {
            throw new ArgumentException($"A is {a.Rows}×{a.Cols}; C is {N}×{N}.", nameof(a));
        }

        var y = new Matrix<T>(a.Rows, N);
        MultiplyRight(a.Rows, a.Data, a.Cols, y.Data, y.Cols, threads);
        return y;
    }
}
