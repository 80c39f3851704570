using Caldera.Compiler.LinearAlgebra;
using Caldera.Compiler.Quantizers;

namespace Caldera.Compiler.Decomposition;

/// <summary>
/// The LR-update (LPLR): min over L (m×k), R (k×n) of tr((A − L·R)·H·(A − L·R)ᵀ), with L and R quantized.
/// </summary>
/// <remarks>
/// <para>Initialisation. With H = C·Cᵀ, tr(Δ·H·Δᵀ) = ‖Δ·C‖²_F, so the unquantized optimum is the best rank-k
/// approximation of A·C mapped back: A·C ≈ U_k·Σ_k·V_kᵀ, L·R = U_k·Σ_k·V_kᵀ·C⁻¹ (Eckart–Young). The paper
/// writes the same with S = H^½ = E·Λ^½·Eᵀ; any square root S with S·Sᵀ = H gives the same objective and the
/// same minimiser, and the Cholesky factor needs no eigendecomposition. The factors are balanced,
/// L = U_k·Σ_k^½ and R = Σ_k^½·V_kᵀ·C⁻¹, so both have comparable scale before quantization.</para>
/// <para>16-bit factors stop here (closed form). Otherwise T_in alternating steps, each exact for its block:
/// L = A·H·Rᵀ·(R·H·Rᵀ)⁻¹, L ← Qlat(L); R = (LᵀL)⁻¹·Lᵀ·A (unweighted least squares is exact for the weighted
/// problem because H ≻ 0 and L is fixed), R ← Qlat(R); the best pair seen is kept.</para>
/// <para>The error is evaluated without forming A − L·R:
/// tr(ΔHΔᵀ) = tr(A·H·Aᵀ) − 2·tr(Lᵀ·A·(R·H)ᵀ) + tr(LᵀL·R·H·Rᵀ): Lᵀ·A is the R-step's right-hand side and R·H
/// the next L-step's, so each inner step costs three skinny GEMMs (Lᵀ·A: k·m·n, R·H: k·n², (R·H)·Aᵀ: k·n·m)
/// and the error only k×k and k×n products.</para>
/// </remarks>
internal static class LowRankFit
{
    /// <summary>Matrices at most this wide get an exact thin SVD; wider ones the randomized truncated SVD.</summary>
    private const int ExactSvdLimit = 1024;

    public static LowRankFactors Fit(Matrix<float> a, Matrix<float> h, Matrix<double> cholesky, int rank, int bits,
        int innerIterations, ulong seed, int threads, DecompositionProfile? profile = null)
    {
        int m = a.Rows, n = a.Cols;
        if (rank == 0) return LowRankFactors.Empty(m, n, bits);

        Matrix<float> l, r;
        using (DecompositionProfile.Measure(profile, DecompositionStep.LowRankInitial))
            (l, r) = Initial(a, cholesky, rank, seed, threads);
        if (bits == 16) return LowRankFactors.ToHalf(l, r);

        var gemms = DecompositionProfile.Measure(profile, DecompositionStep.LowRankGemms);
        double aha = DenseOps.WeightedSquaredNorm(a, h, threads);
        // (A·H·Rᵀ)ᵀ = (R·H)·Aᵀ with Aᵀ stored: the big operand then packs as contiguous rows (2× faster than as A).
        var at = a.Transpose();
        var rh = Gemm.Multiply(Op.N, r, Op.N, h, threads);             // R·H, k×n
        var apt = Gemm.Multiply(rh, at, threads);                      // (A·H·Rᵀ)ᵀ, k×m
        var rhr = Gemm.Multiply(Op.N, rh, Op.T, r, threads);           // R·H·Rᵀ, k×k
        LowRankFactors? best = null;
        double bestError = double.PositiveInfinity;
        for (int t = 0; t < innerIterations; t++)
        {
            var lt = DenseOps.SolveSymmetric(rhr.Convert<double>(), apt.Convert<double>(), threads);
            gemms.Dispose();
            // A degenerate step (a quantized factor that lost its rank, so even the pseudo-inverse breaks down) ends
            // the alternation; the best pair so far stands.
            if (!DenseOps.AllFinite(lt.Data) && best != null) break;
            QuantizedMatrix ltCodes;
            using (DecompositionProfile.Measure(profile, DecompositionStep.FactorQuantization))
                ltCodes = LatticeMatrixQuantizer.E8PResidual.Quantize(lt.Convert<float>().Data, rank, m);
            gemms = DecompositionProfile.Measure(profile, DecompositionStep.LowRankGemms);
            var ltq = new Matrix<float>(rank, m, ltCodes.Dequantized);                 // Lᵀ quantized, k×m

            var ltl = Gemm.Multiply(Op.N, ltq, Op.T, ltq, threads);                     // LᵀL, k×k
            var lta = Gemm.Multiply(Op.N, ltq, Op.N, a, threads);                       // Lᵀ·A, k×n
            var rSolved = DenseOps.SolveSymmetric(ltl.Convert<double>(), lta.Convert<double>(), threads);
            gemms.Dispose();
            if (!DenseOps.AllFinite(rSolved.Data) && best != null) break;
            QuantizedMatrix rCodes;
            using (DecompositionProfile.Measure(profile, DecompositionStep.FactorQuantization))
                rCodes = LatticeMatrixQuantizer.E8PResidual.Quantize(rSolved.Convert<float>().Data, rank, n);
            gemms = DecompositionProfile.Measure(profile, DecompositionStep.LowRankGemms);
            r = new Matrix<float>(rank, n, rCodes.Dequantized);

            rh = Gemm.Multiply(Op.N, r, Op.N, h, threads);
            rhr = Gemm.Multiply(Op.N, rh, Op.T, r, threads);
            // tr(Lᵀ·A·H·Rᵀ) = Σ (Lᵀ·A) ⊙ (R·H) (H symmetric); tr(LᵀL·R·H·Rᵀ) = Σ (LᵀL ⊙ R·H·Rᵀ) (both symmetric).
            double error = aha - 2 * DenseOps.Inner(lta.Data, rh.Data) + DenseOps.Inner(ltl.Data, rhr.Data);
            if (error < bestError)
            {
                bestError = error;
                best = new LowRankFactors(ltq.Transpose(), r, ltCodes, rCodes, bits);
            }
            // (A·H·Rᵀ)ᵀ for the next L-step.
            if (t + 1 < innerIterations) apt = Gemm.Multiply(rh, at, threads);
        }
        gemms.Dispose();
        return best!;
    }

    /// <summary>The closed-form optimum of min ‖(A − L·R)·C‖_F over rank-k L·R, balanced.</summary>
    private static (Matrix<float> L, Matrix<float> R) Initial(Matrix<float> a, Matrix<double> cholesky, int rank, ulong seed, int threads)
    {
        int m = a.Rows, n = a.Cols;
        var y = Gemm.Multiply(Op.N, a, Op.N, cholesky.Convert<float>(), threads).Convert<double>();
        var svd = Math.Min(m, n) <= ExactSvdLimit
            ? ThinSvd.Decompose(y, threads).Truncate(rank)
            : RandomizedSvd.Decompose(y, rank, oversampling: 16, powerIterations: 4, seed: seed, threads: threads);

        var l = new Matrix<float>(m, rank);
        var vRootSigma = new Matrix<double>(n, rank);
        for (int j = 0; j < rank; j++)
        {
            double root = Math.Sqrt(svd.S[j]);
            for (int i = 0; i < m; i++) l[i, j] = (float)(svd.U[i, j] * root);
            for (int i = 0; i < n; i++) vRootSigma[i, j] = svd.V[i, j] * root;
        }
        // Rᵀ = C⁻ᵀ·V_k·Σ_k^½: one back substitution with Cᵀ.
        TriangularSolve.SolveLowerTransposed(cholesky, vRootSigma, threads: threads);
        return (l, vRootSigma.Convert<float>().Transpose());
    }
}
