using System.Diagnostics;
using System.Runtime.CompilerServices;
using Caldera.Runtime.Incoherence;
using Caldera.Compiler.LinearAlgebra;
using Caldera.Compiler.Quantizers;

namespace Caldera.Compiler.Decomposition;

/// <summary>One step of the outer loop, reported to a progress sink.</summary>
internal readonly record struct CalderaStep(int Iteration, string Update, double RelativeError, TimeSpan Elapsed);

/// <summary>
/// CALDERA: W ≈ Q + L·R minimising tr(Δ·H·Δᵀ), with Q 2-bit E8P (BlockLDLQ) and L, R low-rank 4-bit lattice
/// (or 16-bit) factors, after scaling W to RMS 1 and making W and H incoherent with randomized Hadamard
/// transforms. The outer loop alternates the LR-update (fit L·R to W̃ − Q) and the Q-update (round W̃ − L·R),
/// and keeps the best iterate once both have run.
/// </summary>
internal static class CalderaDecomposer
{
    /// <summary>Mixed into the seed for the output-side transform, so SU and SV are independent streams.</summary>
    private const ulong OutputSeedSalt = 0x9E3779B97F4A7C15UL;

    /// <param name="w">W, m×n (out × in).</param>
    /// <param name="hessian">H = E[x·xᵀ] of the matrix's inputs, n×n (undamped; damping is applied here).</param>
    public static CompressedMatrix Decompose(Matrix<float> w, Matrix<double> hessian, CalderaOptions options,
        IProgress<CalderaStep>? progress = null) => Decompose(w, hessian, options, progress, profile: null);

    /// <summary><see cref="Decompose(Matrix{float}, Matrix{double}, CalderaOptions, IProgress{CalderaStep})"/>, adding each step's time to <paramref name="profile"/>.</summary>
    internal static CompressedMatrix Decompose(Matrix<float> w, Matrix<double> hessian, CalderaOptions options,
        IProgress<CalderaStep>? progress, DecompositionProfile? profile)
    {
        options.Validate();
        if (hessian.Rows != w.Cols || hessian.Cols != w.Cols)
            throw new ArgumentException($"the Hessian is {hessian.Rows}×{hessian.Cols}; W has {w.Cols} columns.", nameof(hessian));
        return DecomposeRegularized(w, Hessian.Regularize(hessian, options.Regularization).Convert<float>(), options, progress, profile);
    }

    /// <summary>
    /// The decomposition from H already regularized and rounded to fp32 (<see cref="Hessian.RegularizedSingle"/>, how
    /// <c>ModelCompressor</c> keeps a block's Hessians): the same codes as from the fp64 moment, since fp32 is all that is
    /// read of it. <paramref name="h"/> is shared with the block's other matrices and left unchanged.
    /// </summary>
    internal static CompressedMatrix DecomposeRegularized(Matrix<float> w, Matrix<float> h, CalderaOptions options,
        IProgress<CalderaStep>? progress = null, DecompositionProfile? profile = null) =>
        DecomposeRegularized(() => w, h, options, progress, profile);

    /// <summary>
    /// <see cref="DecomposeRegularized(Matrix{float}, Matrix{float}, CalderaOptions, IProgress{CalderaStep}, DecompositionProfile)"/>
    /// reading W through <paramref name="readWeights"/> twice (from a mapped checkpoint, say): once for the search, which
    /// keeps only W̃, and again for the error in W's coordinates, so W's 4·m·n bytes are not held through the search.
    /// </summary>
    internal static CompressedMatrix DecomposeRegularized(Func<Matrix<float>> readWeights, Matrix<float> h, CalderaOptions options,
        IProgress<CalderaStep>? progress = null, DecompositionProfile? profile = null)
    {
        options.Validate();
        // The search's n×n and m×n arrays are garbage once it returns, before the error's own are allocated.
        var result = Search(readWeights, h, options, progress, profile);
        using (DecompositionProfile.Measure(profile, DecompositionStep.Error))
            return WithError(result, readWeights(), h, options.Threads);
    }

    /// <summary>The outer loop: the best Q + L·R found, without its error in W's coordinates.</summary>
    /// <remarks>
    /// Optimized from its first call: it runs once per matrix for minutes, so tiered compilation would leave it in
    /// unoptimized code, which reports every local as alive to the end and would keep each m×n array a local ever held.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static CompressedMatrix Search(Func<Matrix<float>> readWeights, Matrix<float> h, CalderaOptions options,
        IProgress<CalderaStep>? progress, DecompositionProfile? profile)
    {
        int threads = options.Threads;
        var clock = Stopwatch.StartNew();
        var setup = DecompositionProfile.Measure(profile, DecompositionStep.Setup);

        var (g, wt, htPacked, cholesky, choleskySingle, damping, input, output) = Incoherent(readWeights, h, options, threads);
        setup.Dispose();
        int m = wt.Rows, n = wt.Cols;
        int rank = Math.Min(options.Rank, Math.Min(m, n));

        // W̃ − Q, W̃ − L·R and Q + L·R − W̃ are never alive together: one m×n buffer serves them all. L·R and Δ·C need one
        // more only for a moment: it is rented from the pool BlockLDLQ's E and U and the LR fit's packed A come from,
        // rather than held beside them. Fresh 64 MB arrays cost 0.1–0.4 s of page faults each here.
        var residual = new Matrix<float>(m, n);
        var scratch = new ScratchBuffers();
        double denominator;
        using (DecompositionProfile.Measure(profile, DecompositionStep.Error))
            denominator = WeightedSquaredNorm(wt);
        var codebook = E8PCodebook.Instance;
        // The current and the best Q wait as their codes (m·n/4 bytes each, against 4·m·n for the values): values are
        // decoded only while they are read, so the LR-update and the Q-update each hold one m×n Q at most. There is no Q
        // before the first Q-update; an LR-update then reads it as zero.
        LatticeCodes? q = null;
        var factors = LowRankFactors.Empty(m, n, options.FactorBits);
        (LatticeCodes Q, LowRankFactors Factors)? best = null;
        double bestError = double.PositiveInfinity;
        bool lowRankDone = rank == 0, quantizedDone = false;
        // Whether the Q-update rounds against the downdated Hessian: undecided (null) until the first Q-update after an
        // LR-update tries both. The downdate leaves the k directions L·R serves to the next LR-update, which 4-bit factors
        // may not fit: on tinystories-256d's blk.0.attn_q and attn_k (fast preset) it doubled the error (0.098 against 0.061
        // at rank 4) and made it grow with the rank (0.124 at rank 32), while it gains 2–5 % on the other matrices.
        bool? downdate = options.HessianDowndate && rank > 0 ? null : false;

        for (int t = 1; t <= options.OuterIterations; t++)
        {
            foreach (bool lowRankStep in options.Order == UpdateOrder.LowRankFirst ? [true, false] : new[] { false, true })
            {
                if (lowRankStep)
                {
                    if (rank == 0) continue;
                    Matrix<float> a;
                    if (q is { } current)
                    {
                        var values = Values(current);
                        a = DenseOps.Subtract(wt, values, residual);
                        scratch.Return(values.Data);
                    }
                    else a = Copy(wt, residual);
                    factors = LowRankFit.Fit(a, htPacked, cholesky, choleskySingle, rank, options.FactorBits,
                        options.InnerIterations, options.Seed + (ulong)t, threads, profile, scratch);
                    lowRankDone = true;
                }
                else
                {
                    bool withDowndate = downdate is not false && lowRankDone;
                    q = QUpdate(withDowndate);
                    quantizedDone = true;
                    // The first downdated Q-update is tried against a plain one: this matrix keeps whichever fits better.
                    if (withDowndate && downdate is null)
                    {
                        double downdated = Error(q.Value);
                        var plain = QUpdate(withDowndate: false);
                        downdate = downdated <= Error(plain);
                        if (downdate is false) q = plain;
                    }
                }

                if (!(lowRankDone && quantizedDone)) continue;
                double error = Error(q!.Value);
                progress?.Report(new CalderaStep(t, lowRankStep ? "LR" : "Q", error, clock.Elapsed));
                if (error < bestError)
                {
                    bestError = error;
                    best = (q.Value, factors);
                }
            }
            // Without factors every Q-update sees the same input and returns the same Q.
            if (rank == 0) break;
        }

        // Q = round(W̃ − L·R) with BlockLDLQ, against H̃ or the downdated H̃.
        LatticeCodes QUpdate(bool withDowndate)
        {
            Matrix<float> b;
            using (DecompositionProfile.Measure(profile, DecompositionStep.Error))
            {
                var product = new Matrix<float>(m, n, scratch.Rent<float>((long)m * n));
                b = DenseOps.Subtract(wt, factors.Product(product, threads), residual);
                scratch.Return(product.Data);
            }
            double s = DenseOps.RootMeanSquare(b.Data);
            if (s == 0) s = 1;
            // E8P is tuned for inputs of RMS 1.03; Q = (s/1.03)·Q̂.
            float toLattice = (float)(E8PCodebook.OptimalInputRms / s), fromLattice = (float)(s / E8PCodebook.OptimalInputRms);
            System.Numerics.Tensors.TensorPrimitives.Multiply(b.Data, toLattice, b.Data);
            QUpdateHessian hq;
            using (DecompositionProfile.Measure(profile, withDowndate ? DecompositionStep.Downdate : DecompositionStep.LdlFactor))
                hq = withDowndate
                    ? QUpdateHessian.Downdated(htPacked, damping, cholesky, factors, threads)
                    : QUpdateHessian.Plain(htPacked, damping, threads);
            var (rounded, codes, wordsPerRow) = BlockLdlq.Round(b, hq, codebook, options.QRounding, options.RefinementSweeps, threads,
                profile, scratch);
            // The values are the codewords' values times the scale: LatticeCodes.Values makes them again, bit for bit.
            return new LatticeCodes(codes, wordsPerRow, fromLattice);
        }

        // ‖(Q + L·R − W̃)·C‖_F / ‖W̃·C‖_F: the activation-aware error of a candidate Q with the current factors.
        double Error(LatticeCodes candidate)
        {
            using var _ = DecompositionProfile.Measure(profile, DecompositionStep.Error);
            var values = Values(candidate);
            var delta = DenseOps.Subtract(values, wt, residual);
            scratch.Return(values.Data);
            if (rank > 0) Gemm.Multiply(Op.N, factors.L, Op.N, factors.R, 1f, 1f, delta, threads);
            return Math.Sqrt(Math.Max(WeightedSquaredNorm(delta), 0) / denominator);
        }

        // Q's values in a rented m×n buffer, for the caller to return.
        Matrix<float> Values(LatticeCodes codes) => new(m, n, codes.Decode(m, n, scratch.Rent<float>((long)m * n)).Dequantized);

        // tr(X·H̃·Xᵀ) = ‖X·C‖²_F, X·C formed in a rented m×n buffer.
        double WeightedSquaredNorm(Matrix<float> x)
        {
            var product = new Matrix<float>(m, n, scratch.Rent<float>((long)m * n));
            double norm = DenseOps.WeightedSquaredNorm(x, choleskySingle, product, threads);
            scratch.Return(product.Data);
            return norm;
        }

        // W̃ − 0, the first LR-update's target when no Q has been made yet.
        static Matrix<float> Copy(Matrix<float> source, Matrix<float> destination)
        {
            source.Data.CopyTo(destination.Data, 0);
            return destination;
        }

        var (bestQ, bestFactors) = best!.Value;
        return new CompressedMatrix(m, n, g, input, output, LatticeMatrixQuantizer.E8P, bestQ.Decode(m, n, new float[(long)m * n]), bestFactors, 0);
    }

    /// <summary>Q (m×n) as BlockLDLQ's codes and the scale its values were multiplied by.</summary>
    private readonly record struct LatticeCodes(ushort[] Codes, int WordsPerRow, float Scale)
    {
        /// <summary>Q's codes and values, the values written over <paramref name="values"/>: each row's codewords decoded, times the scale, as the Q-update made them.</summary>
        public QuantizedMatrix Decode(int rows, int columns, float[] values)
        {
            var q = new QuantizedMatrix(rows, columns, WordsPerRow, Scale, Codes, values);
            LatticeMatrixQuantizer.E8P.Dequantize(q, values);
            return q;
        }
    }

    /// <summary>Recomputes the error of <paramref name="c"/> in W's own coordinates, the number every method reports.</summary>
    internal static CompressedMatrix WithError(CompressedMatrix c, Matrix<float> w, Matrix<float> regularizedHessian, int threads) =>
        new(c.Rows, c.Columns, c.GlobalScale, c.InputTransform, c.OutputTransform, c.QQuantizer, c.Q, c.Factors,
            ActivationAwareError.Relative(w, c.Reconstruct(threads), regularizedHessian, threads));

    private static void Symmetrize(Matrix<float> h)
    {
        for (int i = 0; i < h.Rows; i++)
            for (int j = 0; j < i; j++)
            {
                float mean = 0.5f * (h[i, j] + h[j, i]);
                h[i, j] = mean;
                h[j, i] = mean;
            }
    }

    /// <summary>
    /// W̃ = U·(W/g)·Vᵀ with g = RMS(W), H̃ = V·H·Vᵀ packed as the GEMM right operand it is in every LR step, and
    /// C = chol(H̃) (with the damping it needed) packed as triangles in fp64 and fp32. H̃'s dense fp32 copy and C's dense
    /// fp64 one are dropped here: a Q-update reads H̃'s rows back from the packed copy (<see cref="QUpdateHessian"/>), and
    /// the downdate and the LR initialisation read C from its triangle. What stays is 10·n² bytes (2 GB at n = 14336).
    /// </summary>
    private static (float G, Matrix<float> Wt, PackedGemmOperand<float> HtPacked, PackedLowerTriangular<double> Cholesky,
        PackedLowerTriangular<float> CholeskySingle, List<double> Damping, RandomizedHadamard? Input, RandomizedHadamard? Output)
        Incoherent(Func<Matrix<float>> readWeights, Matrix<float> h, CalderaOptions options, int threads)
    {
        // W is read here and not returned: nothing holds it once W̃ is made.
        var w = readWeights();
        int m = w.Rows, n = w.Cols;
        if (h.Rows != n || h.Cols != n)
            throw new ArgumentException($"the Hessian is {h.Rows}×{h.Cols}; W has {n} columns.", nameof(h));
        float g = (float)DenseOps.RootMeanSquare(w.Data);
        if (g == 0) g = 1;
        var wt = new Matrix<float>(m, n);
        System.Numerics.Tensors.TensorPrimitives.Divide(w.Data, g, wt.Data);
        var ht = h.Clone();
        RandomizedHadamard? input = null, output = null;
        if (options.RandomizedHadamard)
        {
            input = RandomizedHadamard.Create(n, options.Seed);
            output = RandomizedHadamard.Create(m, options.Seed ^ OutputSeedSalt);
            input.TransformRows(wt.Data, m);
            output.TransformColumns(wt.Data, n);
            input.TransformHessian(ht.Data);
            Symmetrize(ht);
        }
        var (cholesky, choleskySingle, damping) = FactorPacked(ht, threads);
        // H̃ is the right operand of R·H in every LR step, C of every LR initialisation's A·C and of every error,
        // tr(Δ·H·Δᵀ) = ‖Δ·C‖²_F: both packed once, C as a triangle (half a dense product's flops).
        return (g, wt, Gemm.Pack(Op.N, ht, threads), cholesky, choleskySingle, damping, input, output);
    }

    /// <summary>C = chol(H) as fp64 and fp32 triangles; the dense fp64 C (8·n² bytes) lives only in this call.</summary>
    private static (PackedLowerTriangular<double> Cholesky, PackedLowerTriangular<float> CholeskySingle, List<double> Damping)
        FactorPacked(Matrix<float> h, int threads)
    {
        var c = FactorDamped(h, threads, out var damping);
        return (PackedLowerTriangular<double>.Pack(c, threads), PackedLowerTriangular<float>.Pack(c, threads), damping);
    }

    /// <summary>
    /// chol(H) of <paramref name="h"/> in fp64, adding diagonal damping if rounding made the damped H numerically
    /// indefinite; <paramref name="damping"/> lists the amounts added, in order, for <see cref="QUpdateHessian"/> to
    /// repeat. Each attempt factors, in place, H widened afresh with the damping added so far.
    /// </summary>
    private static Matrix<double> FactorDamped(Matrix<float> h, int threads, out List<double> damping)
    {
        var c = new Matrix<double>(h.Rows, h.Cols);
        damping = [];
        double jitter = 1e-6;
        for (int attempt = 0; ; attempt++)
        {
            DenseOps.Widen(h.Data, c.Data);
            foreach (double added in damping)
                for (int i = 0; i < c.Rows; i++) c[i, i] += added;
            if (Cholesky.TryFactorInPlace(c.Data, c.Rows, threads)) return c;
            if (attempt == 6) throw new InvalidOperationException("the Hessian is not positive definite even after damping.");
            damping.Add(jitter);
            jitter *= 10;
        }
    }
}
