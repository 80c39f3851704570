using System.Buffers;
using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Compiler.Decomposition;

/// <summary>
/// The second moment H = E[x·xᵀ] of a weight matrix's inputs, accumulated in fp64 over calibration tokens
/// (Σ x·xᵀ and the token count N). The CALDERA objective ‖(Q + L·R − W)·Xᵀ‖²_F / N equals tr(Δ·H·Δᵀ).
/// </summary>
internal sealed class Hessian
{
    private readonly Matrix<double> _sum;

    public Hessian(int dimension)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimension);
        Dimension = dimension;
        _sum = new Matrix<double>(dimension, dimension);
    }

    public int Dimension { get; }

    /// <summary>N, the number of input vectors accumulated.</summary>
    public long Count { get; private set; }

    /// <summary>Adds the rows of <paramref name="x"/> (tokens × Dimension, row-major): Σ += Xᵀ·X.</summary>
    public void Add(ReadOnlySpan<float> x, int tokens, int threads = 1)
    {
        if ((long)tokens * Dimension != x.Length)
            throw new ArgumentException($"{x.Length} values are not {tokens} tokens × {Dimension}.", nameof(x));
        if (tokens == 0) return;
        // Pooled: calibration calls this for every batch of every sequence, and a fresh fp64 copy each time
        // would be large-object garbage that piles up between full collections.
        double[] pooled = ArrayPool<double>.Shared.Rent(x.Length);
        try
        {
            var batch = pooled.AsSpan(0, x.Length);
            for (int i = 0; i < x.Length; i++) batch[i] = x[i];
            Gemm.Multiply(Op.T, Op.N, Dimension, Dimension, tokens, 1.0, batch, Dimension, batch, Dimension, 1.0, _sum.Data, Dimension, threads);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(pooled);
        }
        Count += tokens;
    }

    /// <summary>Adds another accumulator over the same matrix input (e.g. from another worker).</summary>
    public void Add(Hessian other)
    {
        if (other.Dimension != Dimension) throw new ArgumentException($"dimension {other.Dimension} ≠ {Dimension}.", nameof(other));
        for (int i = 0; i < _sum.Data.Length; i++) _sum.Data[i] += other._sum.Data[i];
        Count += other.Count;
    }

    /// <summary>E[x·xᵀ] = Σ x·xᵀ / N.</summary>
    public Matrix<double> SecondMoment()
    {
        if (Count == 0) throw new InvalidOperationException("no calibration tokens were accumulated.");
        var h = _sum.Clone();
        double inverse = 1.0 / Count;
        for (int i = 0; i < h.Data.Length; i++) h.Data[i] *= inverse;
        return h;
    }

    /// <summary>tr(Σ x·xᵀ): positive and finite exactly when <see cref="SecondMoment"/>'s trace is (N &gt; 0).</summary>
    public double SumTrace()
    {
        double trace = 0;
        for (int i = 0; i < Dimension; i++) trace += _sum[i, i];
        return trace;
    }

    /// <summary>
    /// <see cref="Regularize"/>(<see cref="SecondMoment"/>, σ) rounded to fp32, element for element the same values,
    /// computed from the sums without the two fp64 n×n copies (at ffn_down's n = 14336 each is 1.6 GB). fp32 is all
    /// the decomposition reads of H (it transforms and factors its own fp32 copy, and scores the error with an fp32 H).
    /// </summary>
    public Matrix<float> RegularizedSingle(double sigma)
    {
        if (Count == 0) throw new InvalidOperationException("no calibration tokens were accumulated.");
        int n = Dimension;
        double inverse = 1.0 / Count;
        double trace = 0;
        for (int i = 0; i < n; i++) trace += _sum[i, i] * inverse;
        double mean = trace / n;
        if (!(mean > 0) || !double.IsFinite(mean))
            throw new ArgumentException($"the Hessian's mean diagonal is {mean}: the layer saw no non-zero input.", nameof(sigma));
        var result = new Matrix<float>(n, n);
        var sums = _sum.Data;
        for (int i = 0; i < n; i++)
        {
            long row = (long)i * n;
            for (int j = 0; j < n; j++)
            {
                double h = sums[row + j] * inverse / mean;
                if (i == j) h += sigma;
                result.Data[row + j] = (float)h;
            }
        }
        return result;
    }

    /// <summary>
    /// QuIP#'s damping: H ← H / mean(diag H), then H_ii += σ. The scale does not change the minimiser; σ keeps
    /// H positive definite (Cholesky, Λ^-½) when some input channels never fire in the calibration data.
    /// </summary>
    public static Matrix<double> Regularize(Matrix<double> h, double sigma)
    {
        int n = h.Rows;
        double trace = 0;
        for (int i = 0; i < n; i++) trace += h[i, i];
        double mean = trace / n;
        if (!(mean > 0) || !double.IsFinite(mean))
            throw new ArgumentException($"the Hessian's mean diagonal is {mean}: the layer saw no non-zero input.", nameof(h));
        var result = new Matrix<double>(n, n);
        for (int i = 0; i < h.Data.Length; i++) result.Data[i] = h.Data[i] / mean;
        for (int i = 0; i < n; i++) result[i, i] += sigma;
        return result;
    }
}
