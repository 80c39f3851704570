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
/// tr(ΔHΔᵀ) = tr(A·H·Aᵀ) − 2·tr(Lᵀ·A·(R·H)ᵀ) + tr(LᵀL·R·H·Rᵀ). tr(A·H·Aᵀ) = ‖A·C‖²_F comes with the
/// initialisation's A·C; Lᵀ·A is the R-step's right-hand side and R·H the next L-step's, so each inner step costs
/// three skinny GEMMs (Lᵀ·A: k·m·n, R·H: k·n², (R·H)·Aᵀ: k·n·m) and the error only k×k and k×n products. H, A and
/// Aᵀ, the big operands of those GEMMs, are packed once.</para>
/// </remarks>
internal static class LowRankFit
{
    /// <summary>Matrices at most this wide get an exact thin SVD; wider ones the randomized truncated SVD.</summary>
    private const int ExactSvdLimit = 1024;

    /// <param name="h">H (n×n) packed as a GEMM right operand: it is the same for every fit of a decomposition.</param>
    /// <param name="cholesky">C = chol(H), n×n, in fp64, and <paramref name="choleskySingle"/> the same C in fp32, both packed as triangles.</param>
    public static LowRankFactors Fit(Matrix<float> a, PackedGemmOperand<float> h, PackedLowerTriangular<double> cholesky,
        PackedLowerTriangular<float> choleskySingle, int rank, int bits, int innerIterations, ulong seed, int threads,
        DecompositionProfile? profile = null, ScratchBuffers? scratch = null)
    {
        int m = a.Rows, n = a.Cols;
        if (rank == 0) return LowRankFactors.Empty(m, n, bits);

        Matrix<float> l, r;
        double aha;
        using (DecompositionProfile.Measure(profile, DecompositionStep.LowRankInitial))
            (l, r, aha) = Initial(a, cholesky, choleskySingle, rank, seed, threads, scratch);
        if (bits == 16) return LowRankFactors.ToHalf(l, r);

        PackedGemmOperand<float> aPacked, atPacked;
        // Every k×m and k×n buffer of the inner steps is allocated once: a fresh megabyte-sized array costs page
        // faults worth ten times its copy, which at T_in = 50 outweighed the GEMMs themselves.
        var rh = new Matrix<float>(rank, n);              // R·H
        var apt = new Matrix<float>(rank, m);             // (A·H·Rᵀ)ᵀ
        var lta = new Matrix<float>(rank, n);             // Lᵀ·A
        var rhr = new Matrix<float>(rank, rank);          // R·H·Rᵀ
        var ltl = new Matrix<float>(rank, rank);          // LᵀL
        var lt = new Matrix<double>(rank, m);             // Lᵀ solved, fp64
        var rSolved = new Matrix<double>(rank, n);        // R solved, fp64
        var ltSingle = new Matrix<float>(rank, m);
        var rSingle = new Matrix<float>(rank, n);
        using (DecompositionProfile.Measure(profile, DecompositionStep.LowRankGemms))
        {
            // A and Aᵀ are the big operands of Lᵀ·A and (R·H)·Aᵀ in all T_in steps, H in every step of every fit:
            // packed once, each step's skinny GEMMs (k×n·n×m) only stream them.
            aPacked = Gemm.Pack(Op.N, a, threads, length => ScratchBuffers.Rent<float>(scratch, length));
            atPacked = Gemm.Pack(Op.T, a, threads, length => ScratchBuffers.Rent<float>(scratch, length));
            Gemm.Multiply(Op.N, rank, 1f, r.Data, n, h, 0f, rh.Data, n, threads);
            Gemm.Multiply(Op.N, rank, 1f, rh.Data, n, atPacked, 0f, apt.Data, m, threads);
            Gemm.Multiply(Op.N, rh, Op.T, r, 1f, 0f, rhr, threads);
        }
        LowRankFactors? best = null;
        double bestError = double.PositiveInfinity;
        for (int t = 0; t < innerIterations; t++)
        {
            using (DecompositionProfile.Measure(profile, DecompositionStep.LowRankGemms))
                DenseOps.SolveSymmetric(rhr, apt, lt, threads);
            // A degenerate step (a quantized factor that lost its rank, so even the pseudo-inverse breaks down) ends
            // the alternation; the best pair so far stands.
            if (!DenseOps.AllFinite(lt.Data) && best != null) break;
            QuantizedMatrix ltCodes;
            using (DecompositionProfile.Measure(profile, DecompositionStep.FactorQuantization))
            {
                DenseOps.Narrow(lt.Data, ltSingle.Data);
                ltCodes = LatticeMatrixQuantizer.E8PResidual.Quantize(ltSingle.Data, rank, m, threads);
            }
            var ltq = new Matrix<float>(rank, m, ltCodes.Dequantized);                 // Lᵀ quantized, k×m

            using (DecompositionProfile.Measure(profile, DecompositionStep.LowRankGemms))
            {
                Gemm.Multiply(Op.N, ltq, Op.T, ltq, 1f, 0f, ltl, threads);                          // LᵀL, k×k
                Gemm.Multiply(Op.N, rank, 1f, ltq.Data, m, aPacked, 0f, lta.Data, n, threads);      // Lᵀ·A, k×n
                DenseOps.SolveSymmetric(ltl, lta, rSolved, threads);
            }
            if (!DenseOps.AllFinite(rSolved.Data) && best != null) break;
            QuantizedMatrix rCodes;
            using (DecompositionProfile.Measure(profile, DecompositionStep.FactorQuantization))
            {
                DenseOps.Narrow(rSolved.Data, rSingle.Data);
                rCodes = LatticeMatrixQuantizer.E8PResidual.Quantize(rSingle.Data, rank, n, threads);
            }
            r = new Matrix<float>(rank, n, rCodes.Dequantized);

            using (DecompositionProfile.Measure(profile, DecompositionStep.LowRankGemms))
            {
                Gemm.Multiply(Op.N, rank, 1f, r.Data, n, h, 0f, rh.Data, n, threads);
                Gemm.Multiply(Op.N, rh, Op.T, r, 1f, 0f, rhr, threads);
                // tr(Lᵀ·A·H·Rᵀ) = Σ (Lᵀ·A) ⊙ (R·H) (H symmetric); tr(LᵀL·R·H·Rᵀ) = Σ (LᵀL ⊙ R·H·Rᵀ) (both symmetric).
                double error = aha - 2 * DenseOps.Inner(lta.Data, rh.Data) + DenseOps.Inner(ltl.Data, rhr.Data);
                if (error < bestError)
                {
                    bestError = error;
                    best = new LowRankFactors(ltq.Transpose(), r, ltCodes, rCodes, bits);
                }
                // (A·H·Rᵀ)ᵀ for the next L-step.
                if (t + 1 < innerIterations) Gemm.Multiply(Op.N, rank, 1f, rh.Data, n, atPacked, 0f, apt.Data, m, threads);
            }
        }
        ScratchBuffers.Return(scratch, aPacked.Data, atPacked.Data);
        return best!;
    }

    /// <summary>
    /// The closed-form optimum of min ‖(A − L·R)·C‖_F over rank-k L·R, balanced, and tr(A·H·Aᵀ) = ‖A·C‖²_F, which
    /// the inner steps' error formula starts from.
    /// </summary>
    private static (Matrix<float> L, Matrix<float> R, double Aha) Initial(Matrix<float> a, PackedLowerTriangular<double> cholesky,
        PackedLowerTriangular<float> choleskySingle, int rank, ulong seed, int threads, ScratchBuffers? scratch)
    {
        int m = a.Rows, n = a.Cols;
        var ac = new Matrix<float>(m, n, ScratchBuffers.Rent<float>(scratch, a.Data.LongLength));
        choleskySingle.MultiplyRight(m, a.Data, n, ac.Data, n, threads);
        double aha = DenseOps.Inner(ac.Data, ac.Data);
        // Y = A·C in fp64 for the SVD, not pooled: kept, its 8·m·n bytes would stay alive through every Q-update.
        var y = new Matrix<double>(m, n, GC.AllocateUninitializedArray<double>(checked((int)a.Data.LongLength)));
        System.Numerics.Tensors.TensorPrimitives.ConvertChecked<float, double>(ac.Data, y.Data);
        ScratchBuffers.Return(scratch, ac.Data);
        var svd = Math.Min(m, n) <= ExactSvdLimit
            ? ThinSvd.Decompose(y, threads).Truncate(rank)
            : RandomizedSvd.Decompose(y, rank, oversampling: 16, powerIterations: 4, seed: seed, threads: threads);

        var l = new Matrix<float>(m, rank);
        var vRootSigma = new Matrix<double>(n, rank);
        var roots = new double[rank];
        for (int j = 0; j < rank; j++) roots[j] = Math.Sqrt(svd.S[j]);
        // Row by row: U, V, L and V·Σ^½ are row-major, so column order would stride through them.
        for (int i = 0; i < m; i++)
        {
            ReadOnlySpan<double> u = svd.U.Row(i)[..rank];
            var lRow = l.Row(i);
            for (int j = 0; j < rank; j++) lRow[j] = (float)(u[j] * roots[j]);
        }
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<double> v = svd.V.Row(i)[..rank];
            var row = vRootSigma.Row(i);
            for (int j = 0; j < rank; j++) row[j] = v[j] * roots[j];
        }
        // Rᵀ = C⁻ᵀ·V_k·Σ_k^½: one back substitution with Cᵀ.
        TriangularSolve.SolveLowerTransposed(cholesky, vRootSigma, threads);
        return (l, vRootSigma.Convert<float>().Transpose(), aha);
    }
}
