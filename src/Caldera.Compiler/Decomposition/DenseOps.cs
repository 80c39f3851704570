using System.Numerics.Tensors;
using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Compiler.Decomposition;

/// <summary>Small dense helpers the decomposition steps share (conversions, traces, SPD solves).</summary>
internal static class DenseOps
{
    /// <summary>Σ_ij A_ij·B_ij in fp64, i.e. tr(A·Bᵀ).</summary>
    public static double Inner(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += (double)a[i] * b[i];
        return sum;
    }

    public static double RootMeanSquare(ReadOnlySpan<float> a) => a.Length == 0 ? 0 : Math.Sqrt(Inner(a, a) / a.Length);

    /// <summary>tr(A·H·Aᵀ) for A m×n and symmetric H n×n: one SGEMM and an inner product.</summary>
    public static double WeightedSquaredNorm(Matrix<float> a, PackedGemmOperand<float> h, int threads)
    {
        var ah = Gemm.Multiply(Op.N, a, h, threads);
        return Inner(ah.Data, a.Data);
    }

    /// <summary>
    /// tr(A·H·Aᵀ) = ‖A·C‖²_F for H = C·Cᵀ (C lower triangular, n×n): half the flops of the form with H.
    /// <paramref name="scratch"/> (m×n) receives A·C.
    /// </summary>
    public static double WeightedSquaredNorm(Matrix<float> a, PackedLowerTriangular<float> c, Matrix<float> scratch, int threads)
    {
        c.MultiplyRight(a.Rows, a.Data, a.Cols, scratch.Data, scratch.Cols, threads);
        return Inner(scratch.Data, scratch.Data);
    }

    /// <summary>
    /// X with G·X = B for symmetric positive (semi)definite G (k×k, small): Cholesky in fp64, falling back to the
    /// pseudo-inverse when G is singular (a factor column that quantized to zero makes LᵀL rank-deficient).
    /// </summary>
    public static Matrix<double> SolveSymmetric(Matrix<double> g, Matrix<double> b, int threads)
    {
        if (Cholesky.TryFactor(g, out var c, threads))
        {
            var x = b.Clone();
            TriangularSolve.SolveLower(c, x, threads: threads);
            TriangularSolve.SolveLowerTransposed(c, x, threads: threads);
            if (AllFinite(x.Data)) return x;
        }
        return LeastSquares.PseudoInverseSolve(g, b, threads);
    }

    /// <summary>
    /// <see cref="SolveSymmetric(Matrix{double}, Matrix{double}, int)"/> for fp32 G and B, into <paramref name="x"/>
    /// (B's shape) instead of a new matrix: the same fp64 arithmetic on B widened in place.
    /// </summary>
    public static void SolveSymmetric(Matrix<float> g, Matrix<float> b, Matrix<double> x, int threads)
    {
        var gd = g.Convert<double>();
        if (Cholesky.TryFactor(gd, out var c, threads))
        {
            Widen(b.Data, x.Data);
            TriangularSolve.SolveLower(c, x, threads: threads);
            TriangularSolve.SolveLowerTransposed(c, x, threads: threads);
            if (AllFinite(x.Data)) return;
        }
        LeastSquares.PseudoInverseSolve(gd, b.Convert<double>(), threads).Data.CopyTo(x.Data, 0);
    }

    /// <summary>y = x in fp64 (exact).</summary>
    public static void Widen(ReadOnlySpan<float> x, Span<double> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i];
    }

    /// <summary>y = x rounded to fp32 (to nearest).</summary>
    public static void Narrow(ReadOnlySpan<double> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = (float)x[i];
    }

    public static bool AllFinite(ReadOnlySpan<double> values)
    {
        foreach (double v in values)
            if (!double.IsFinite(v)) return false;
        return true;
    }

    /// <summary>C = A − B elementwise (new matrix).</summary>
    public static Matrix<float> Subtract(Matrix<float> a, Matrix<float> b) => Subtract(a, b, new Matrix<float>(a.Rows, a.Cols));

    /// <summary>C = A − B elementwise into <paramref name="c"/> (A's shape), which is returned.</summary>
    public static Matrix<float> Subtract(Matrix<float> a, Matrix<float> b, Matrix<float> c)
    {
        TensorPrimitives.Subtract(a.Data, b.Data, c.Data);
        return c;
    }
}
