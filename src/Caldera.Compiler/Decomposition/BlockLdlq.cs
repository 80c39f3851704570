using Caldera.Compiler.LinearAlgebra;
using Caldera.Compiler.Quantizers;

namespace Caldera.Compiler.Decomposition;

/// <summary>
/// BlockLDLQ (QuIP#): rounds B (m×n) to lattice codewords, 8 columns at a time, minimising tr(E·H·Eᵀ) with
/// E = B − Q̂ by feeding back the error already made. With H = L·D·Lᵀ (L unit block-lower-triangular, blocks of 8),
/// column blocks j = J−1 … 0 are rounded as Q̂_j = NN(B_j + E_{>j}·L_{>j,j}); then refinement sweeps re-round each
/// block at its coordinate-wise optimum given all others, T_j = Q̂_j + (E·H)_j·H_jj⁻¹, updating G = E·H as codes change.
/// </summary>
/// <remarks>
/// <para>The first pass is lazy and batched as in GPTQ (<see cref="BlockLdlqPass"/>): the feedback a window of blocks
/// sends to the columns left of it is one GEMM over all rows. G = E·H is then one GEMM, and the sweeps
/// (<see cref="BlockLdlqSweeps"/>) keep it current with one axpy per changed coordinate, because few change
/// (≈ 5 % in the first sweep, ≈ 0.1 % in the tenth, at 4096²): a dense GEMM per sweep would cost 2·m·n² flops
/// for a few percent of them.</para>
/// <para>The objective is a sum over rows (each row r contributes e_r·H·e_rᵀ), so rows are independent: they are
/// rounded in fixed chunks on any number of threads with identical arithmetic, and the GEMMs are bitwise
/// independent of the thread count, which keeps results independent of it.</para>
/// <para>n not a multiple of 8: H is padded to n' = ⌈n/8⌉·8 with unit-variance dimensions that have no cross terms,
/// so they never feed error into real columns, and the last 8-vector of each row is rounded on its real
/// coordinates only (the codebook treats the pad coordinates as free). Q̂ and E keep zeros there.</para>
/// </remarks>
internal static class BlockLdlq
{
    internal const int Block = 8;

    /// <summary>Rows rounded together: one 16-lane batch of the E8P class search.</summary>
    internal const int RowsPerChunk = 16;

    /// <summary>Rounds <paramref name="b"/> against <paramref name="h"/>; returns Q̂ (m×n) and the codes (m × words per row).</summary>
    public static (Matrix<float> Rounded, ushort[] Codes, int WordsPerRow) Round(Matrix<float> b, Matrix<double> h,
        ILatticeCodebook codebook, QRounding rounding, int sweeps, int threads, DecompositionProfile? profile = null,
        ScratchBuffers? scratch = null) =>
        Round(b, HessianRows.Of(h), codebook, rounding, sweeps, threads, profile, scratch);

    /// <summary>
    /// <see cref="Round(Matrix{float}, Matrix{double}, ILatticeCodebook, QRounding, int, int, DecompositionProfile, ScratchBuffers)"/>
    /// reading H a panel of rows at a time. One n'×n' fp32 array is held: H's factor L for the first pass, then H
    /// itself, rebuilt from <paramref name="h"/>, for the sweeps. It is not taken from <paramref name="scratch"/> and
    /// not returned to it, so no n×n array outlives the Q-update (the LR-update that follows needs m×n ones).
    /// </summary>
    public static (Matrix<float> Rounded, ushort[] Codes, int WordsPerRow) Round(Matrix<float> b, HessianRows h,
        ILatticeCodebook codebook, QRounding rounding, int sweeps, int threads, DecompositionProfile? profile = null,
        ScratchBuffers? scratch = null)
    {
        int m = b.Rows, n = b.Cols;
        int blocks = (n + Block - 1) / Block;
        int wordsPerRow = blocks * codebook.WordsPerVector;
        var rounded = new Matrix<float>(m, n);
        var codes = new ushort[(long)m * wordsPerRow];

        if (rounding == QRounding.Nearest)
        {
            using var nearest = DecompositionProfile.Measure(profile, DecompositionStep.LdlqPass);
            Parallelism.For(ChunkCount(m), threads, c =>
            {
                for (int r = c * RowsPerChunk; r < Math.Min(m, (c + 1) * RowsPerChunk); r++)
                    codebook.QuantizeRow(b.Row(r), rounded.Row(r), codes.AsSpan(r * wordsPerRow, wordsPerRow));
            });
            return (rounded, codes, wordsPerRow);
        }

        Factors factors;
        using (DecompositionProfile.Measure(profile, DecompositionStep.LdlFactor))
            factors = Factor(h, blocks, threads);
        var residual = ScratchBuffers.Rent<float>(scratch, (long)m * factors.Padded);
        var state = new BlockLdlqState(b, rounded, codes, wordsPerRow, codebook, factors.Padded, residual);
        float[] work;
        using (DecompositionProfile.Measure(profile, DecompositionStep.LdlqPass))
            work = BlockLdlqPass.Run(state, factors, threads, ScratchBuffers.Rent<float>(scratch, (long)m * factors.Padded));
        if (sweeps > 0)
        {
            float[] hSingle;
            using (DecompositionProfile.Measure(profile, DecompositionStep.LdlFactor))
                hSingle = Hessian(h, factors, storage: factors.Lower);
            using (DecompositionProfile.Measure(profile, DecompositionStep.LdlqSweeps))
                BlockLdlqSweeps.Run(state, factors, hSingle, sweeps, g: work, threads);
        }
        ScratchBuffers.Return(scratch, work, residual);
        return (rounded, codes, wordsPerRow);
    }

    internal static int ChunkCount(int rows) => (rows + RowsPerChunk - 1) / RowsPerChunk;

    /// <summary>
    /// The unit block-lower factor L of H = L·D·Lᵀ (n'×n', H padded to whole blocks and, if it had to be damped,
    /// plus <paramref name="Jitter"/>·I) and the inverses of that H's 8×8 diagonal blocks, row-major in fp32.
    /// </summary>
    internal sealed record Factors(int Padded, float[] Lower, float[][] DiagonalInverse, double Jitter);

    internal static Factors Factor(Matrix<double> h, int blocks, int threads) => Factor(HessianRows.Of(h), blocks, threads);

    internal static Factors Factor(HessianRows h, int blocks, int threads)
    {
        int padded = blocks * Block;
        double meanDiagonal = h.MeanDiagonal;

        // In fp32 first, as QuIP# factors H_q: half the bytes and twice the lanes of fp64 (a 4096² factor went from
        // ≈ 0.9 to ≈ 0.4 s), and H_q is damped well above fp32's rounding. The inverses of H's diagonal blocks are
        // taken before it is factored in place.
        var single = Padded(h, padded, meanDiagonal, jitter: 0, GC.AllocateUninitializedArray<float>(checked(padded * padded)));
        var inverses = DiagonalInverses(single, padded);
        if (Cholesky.TryFactorInPlace(single, padded, threads))
        {
            BlockLdl.ToUnitBlockLower(single, padded, Block, threads);
            return new Factors(padded, single, inverses, Jitter: 0);
        }

        // fp32 rounding made the copy indefinite (QuIP# then retries in fp64): factor in fp64, adding damping as
        // long as that fails too, each attempt in a copy rebuilt with the damping added so far.
        double added = 0, jitter = 1e-6 * meanDiagonal;
        for (int attempt = 0; ; attempt++)
        {
            var hp = new Matrix<double>(padded, padded, Padded(h, padded, meanDiagonal, added, new double[(long)padded * padded]));
            inverses = DiagonalInverses(hp.Data, padded);
            if (BlockLdl.TryDecomposeInPlace(hp, Block, out var ldl, threads))
            {
                DenseOps.Narrow(ldl.Lower.Data, single);
                return new Factors(padded, single, inverses, added);
            }
            if (attempt == 6) throw new InvalidOperationException("BlockLDLQ: the Hessian is not positive definite even after damping.");
            added += jitter;
            jitter *= 10;
        }
    }

    /// <summary>
    /// The fp32 H (n'×n') whose factors <paramref name="f"/> are, the sweeps' H, rebuilt from <paramref name="h"/>
    /// over <paramref name="storage"/> (n'² elements, any contents).
    /// </summary>
    internal static float[] Hessian(HessianRows h, Factors f, float[] storage) =>
        Padded(h, f.Padded, h.MeanDiagonal, f.Jitter, storage);

    /// <summary>Rows of H converted per panel: 64 rows of fp64 (7 MB at n = 14336) bound what is held beside the n'×n' result.</summary>
    private const int PanelRows = 64;

    /// <summary>
    /// H padded to n'×n' (pad dimensions: the mean diagonal, no cross terms), plus <paramref name="jitter"/>·I, written
    /// over all of <paramref name="storage"/> (n'² elements, any contents), and returned.
    /// </summary>
    private static T[] Padded<T>(HessianRows h, int padded, double meanDiagonal, double jitter, T[] storage)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        int n = h.Dimension;
        var panel = new double[(long)Math.Min(PanelRows, n) * n];
        for (int i0 = 0; i0 < padded; i0 += PanelRows)
        {
            int rows = Math.Min(PanelRows, padded - i0), present = Math.Clamp(n - i0, 0, rows);
            if (present > 0) h.CopyRows(i0, present, panel);
            for (int r = 0; r < rows; r++)
            {
                int i = i0 + r;
                var row = storage.AsSpan(i * padded, padded);
                row.Clear();
                if (i < n)
                {
                    ReadOnlySpan<double> source = panel.AsSpan(r * n, n);
                    for (int j = 0; j < n; j++) row[j] = T.CreateTruncating(source[j]);
                    row[i] = T.CreateTruncating(source[i] + jitter);
                }
                else
                    row[i] = T.CreateTruncating(meanDiagonal + jitter);
            }
        }
        return storage;
    }

    /// <summary>H_jj⁻¹ of each 8×8 diagonal block of H rounded to fp32 (the H the sweeps use), solved in fp64.</summary>
    private static float[][] DiagonalInverses<T>(T[] h, int padded) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var inverses = new float[padded / Block][];
        var block = new Matrix<double>(Block, Block);
        for (int j = 0; j < inverses.Length; j++)
        {
            for (int r = 0; r < Block; r++)
                for (int c = 0; c < Block; c++) block[r, c] = float.CreateTruncating(h[(j * Block + r) * padded + j * Block + c]);
            inverses[j] = DenseOps.SolveSymmetric(block, Matrix<double>.Identity(Block), 1).Convert<float>().Data;
        }
        return inverses;
    }
}
