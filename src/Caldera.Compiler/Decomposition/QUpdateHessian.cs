using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Compiler.Decomposition;

/// <summary>
/// H_q, the Hessian a Q-update rounds against, a panel of rows at a time: H̃ (read from the decomposition's packed fp32
/// copy) widened to fp64 with the damping its Cholesky factor needed added to the diagonal step by step, and, after an
/// LR-update, downdated (<see cref="HessianDowndate"/>): − (M·V_k)·(M·V_k)ᵀ, then the two safeguard shifts.
/// </summary>
/// <remarks>
/// Every element is the value a whole fp64 H_q computed in the same order would hold, bit for bit: the downdate's
/// product is the same GEMM restricted to the panel's rows (each element of a GEMM is computed alike wherever it lies
/// in C), and the second shift's trace sums the same diagonal in the same order. What is held is M·V_k (n×k) and the
/// diagonal, not n×n.
/// </remarks>
internal sealed class QUpdateHessian : HessianRows
{
    /// <summary>Rows per GEMM when the downdated diagonal is computed: 64·64·k flops a block, small beside the panels'.</summary>
    private const int DiagonalBlock = 64;

    private readonly PackedGemmOperand<float> h;
    private readonly double[] damping;
    private readonly Matrix<double>? mv;
    private readonly double firstShift, secondShift, meanDiagonal;
    private readonly int threads;
    private readonly float[] row;

    private QUpdateHessian(PackedGemmOperand<float> h, IReadOnlyList<double> damping, Matrix<double>? mv, double firstShift, int threads)
        : base(h.Rows)
    {
        this.h = h;
        this.damping = [.. damping];
        this.mv = mv;
        this.firstShift = firstShift;
        this.threads = threads;
        row = new float[Dimension];

        var diagonal = Diagonal();
        if (mv is not null)
        {
            // H_q[i, i] = (d_i + first) + second, second = 0.01·|Σ (d_i + first) / n|: the trace after the first shift.
            double trace = 0;
            foreach (double d in diagonal) trace += d + firstShift;
            secondShift = HessianDowndate.SecondShift(trace, Dimension);
        }
        double sum = 0;
        foreach (double d in diagonal) sum += mv is null ? d : d + firstShift + secondShift;
        meanDiagonal = sum / Dimension;
    }

    /// <summary>H̃ plus the damping: the Q-update before any LR-update, or when the downdate fits worse.</summary>
    public static QUpdateHessian Plain(PackedGemmOperand<float> h, IReadOnlyList<double> damping, int threads) =>
        new(h, damping, mv: null, firstShift: 0, threads);

    /// <summary>H̃ plus the damping, downdated by the directions L·R serves and shifted.</summary>
    /// <param name="cholesky">M = chol(H̃ + damping), n×n, in fp64.</param>
    public static QUpdateHessian Downdated(PackedGemmOperand<float> h, IReadOnlyList<double> damping, PackedLowerTriangular<double> cholesky,
        LowRankFactors factors, int threads)
    {
        var (mv, v) = HessianDowndate.Directions(cholesky, factors, threads);
        return new(h, damping, mv, HessianDowndate.FirstShift(cholesky, v, threads), threads);
    }

    public override double MeanDiagonal => meanDiagonal;

    public override void CopyRows(int first, int count, Span<double> destination)
    {
        int n = Dimension;
        for (int r = 0; r < count; r++)
        {
            h.CopyRow(first + r, row);
            var target = destination.Slice(r * n, n);
            DenseOps.Widen(row, target);
            foreach (double jitter in damping) target[first + r] += jitter;
        }
        if (mv is null) return;
        int k = mv.Cols;
        Gemm.Multiply(Op.N, Op.T, count, n, k, -1.0, mv.Data.AsSpan(first * k), k, mv.Data, k, 1.0, destination, n, threads);
        for (int r = 0; r < count; r++)
        {
            destination[(r * n) + first + r] += firstShift;
            destination[(r * n) + first + r] += secondShift;
        }
    }

    /// <summary>The diagonal before the shifts: H̃_ii plus the damping, minus ‖(M·V_k)_i‖² as the panel GEMM computes it.</summary>
    private double[] Diagonal()
    {
        int n = Dimension;
        var diagonal = new double[n];
        for (int i = 0; i < n; i++)
        {
            h.CopyRow(i, row);
            diagonal[i] = row[i];
            foreach (double jitter in damping) diagonal[i] += jitter;
        }
        if (mv is null) return diagonal;
        int k = mv.Cols;
        var block = new double[DiagonalBlock * DiagonalBlock];
        for (int i0 = 0; i0 < n; i0 += DiagonalBlock)
        {
            int rows = Math.Min(DiagonalBlock, n - i0);
            Array.Clear(block);
            for (int r = 0; r < rows; r++) block[(r * rows) + r] = diagonal[i0 + r];
            Gemm.Multiply(Op.N, Op.T, rows, rows, k, -1.0, mv.Data.AsSpan(i0 * k), k, mv.Data.AsSpan(i0 * k), k, 1.0, block, rows, threads);
            for (int r = 0; r < rows; r++) diagonal[i0 + r] = block[(r * rows) + r];
        }
        return diagonal;
    }
}
