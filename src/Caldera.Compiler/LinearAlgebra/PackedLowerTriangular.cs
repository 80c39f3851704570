using System.Numerics;

namespace Caldera.Compiler.LinearAlgebra;

/// <summary>
/// A lower-triangular n×n right operand C packed for A·C at half a dense product's cost: row panel P of C (rows
/// r₀ … r₁ − 1) is zero right of column r₁, so its share of the product, A[:, r₀:r₁]·C[r₀:r₁, 0:r₁], is one GEMM of depth
/// r₁ − r₀ into the first r₁ columns, each panel packed once (<see cref="Gemm.Pack{T}(Op, int, int, ReadOnlySpan{T}, int, int)"/>)
/// without the zeros right of it, and the panels' products are added in row order.
/// </summary>
/// <remarks>
/// <para>CALDERA's ‖X·C‖²_F = tr(X·H·Xᵀ) with H = C·Cᵀ (the activation-aware error, tr(A·H·Aᵀ)) and the LR
/// initialisation's A·C are n³-flop products with the same Cholesky factor in every outer iteration: packing C once
/// and skipping its upper half halves them. Row panels (not column panels) keep A's packing at one pass over A, as in
/// the dense product.</para>
/// <para>Panels are <see cref="PanelRows"/> rows, a multiple of the GEMM's depth block KC, so each element sums the same
/// rows in the same KC blocks, added to it in the same order, as the dense product, whose extra terms are exact zeros:
/// the result is bitwise the dense A·C. Holds about n²/2 + n·<see cref="PanelRows"/>/2 elements.</para>
/// </remarks>
internal sealed class PackedLowerTriangular<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Rows per panel: two depth blocks (KC), so panels start on KC boundaries and the triangle computed
    /// densely on each panel's diagonal block stays a small share of the work.</summary>
    internal static int PanelRows => 2 * GemmDriver<T>.DepthBlock(GemmKernelKinds.Best);

    private readonly PackedGemmOperand<T>[] panels;

    private readonly int panelRows = PanelRows;

    private PackedLowerTriangular(int n, PackedGemmOperand<T>[] panels)
    {
        N = n;
        this.panels = panels;
    }

    /// <summary>C[row, col]: zero above the diagonal, else read where the packing put it.</summary>
    public T this[int row, int col] => col > row ? T.Zero : panels[row / panelRows][row % panelRows, col];

    /// <summary>Row <paramref name="row"/> of C, all n elements, zeros right of the diagonal included.</summary>
    public void CopyRow(int row, Span<T> destination)
    {
        var panel = panels[row / panelRows];
        panel.CopyRow(row % panelRows, destination);
        destination[panel.Cols..N].Clear();
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

        int panelRows = PanelRows;
        var panels = new PackedGemmOperand<T>[(n + panelRows - 1) / panelRows];
        for (int p = 0; p < panels.Length; p++)
        {
            int r0 = p * panelRows, r1 = Math.Min(n, r0 + panelRows);
            panels[p] = Gemm.Pack(Op.N, r1 - r0, r1, lower.Data.AsSpan(r0 * n), n, threads);
        }

        return new PackedLowerTriangular<T>(n, panels);
    }

    /// <summary>
    /// Packs the lower triangle of <paramref name="lower"/> converted to T, a panel at a time: the values of
    /// <c>Pack(lower.Convert&lt;T&gt;())</c> without a whole converted copy (4·n² bytes at fp32, 0.8 GB at n = 14336).
    /// </summary>
    public static PackedLowerTriangular<T> Pack<TSource>(Matrix<TSource> lower, int threads = 1)
        where TSource : unmanaged, IFloatingPointIeee754<TSource>
    {
        ArgumentNullException.ThrowIfNull(lower);
        int n = lower.Rows;
        if (lower.Cols != n)
        {
            throw new ArgumentException($"a triangular operand must be square, got {lower.Rows}×{lower.Cols}.", nameof(lower));
        }

        int panelRows = PanelRows;
        var panels = new PackedGemmOperand<T>[(n + panelRows - 1) / panelRows];
        var converted = new T[(long)Math.Min(n, panelRows) * n];
        for (int p = 0; p < panels.Length; p++)
        {
            int r0 = p * panelRows, r1 = Math.Min(n, r0 + panelRows);
            for (int i = r0; i < r1; i++)
            {
                ReadOnlySpan<TSource> source = lower.Row(i)[..r1];
                var row = converted.AsSpan((i - r0) * r1, r1);
                for (int j = 0; j < r1; j++) row[j] = T.CreateTruncating(source[j]);
            }
            panels[p] = Gemm.Pack(Op.N, r1 - r0, r1, converted.AsSpan(0, (r1 - r0) * r1), r1, threads);
        }

        return new PackedLowerTriangular<T>(n, panels);
    }

    /// <summary>Y = A·C for A m×n (leading dimension <paramref name="lda"/>) into Y (m×n, leading dimension <paramref name="ldy"/>).</summary>
    public void MultiplyRight(int m, ReadOnlySpan<T> a, int lda, Span<T> y, int ldy, int threads = 1)
    {
        for (int i = 0; i < m; i++) y.Slice(i * ldy, N).Clear();
        int panelRows = PanelRows;
        for (int p = 0; p < panels.Length; p++)
            Gemm.Multiply(Op.N, m, T.One, a[(p * panelRows)..], lda, panels[p], T.One, y, ldy, threads);
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
