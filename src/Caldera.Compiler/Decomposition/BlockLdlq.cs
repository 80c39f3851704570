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
            factors = Factor(h, blocks, threads, scratch);
        var residual = ScratchBuffers.Rent<float>(scratch, (long)m * factors.Padded);
        var state = new BlockLdlqState(b, rounded, codes, wordsPerRow, codebook, factors.Padded, residual);
        float[] work;
        using (DecompositionProfile.Measure(profile, DecompositionStep.LdlqPass))
            work = BlockLdlqPass.Run(state, factors, threads, ScratchBuffers.Rent<float>(scratch, (long)m * factors.Padded));
        if (sweeps > 0)
            using (DecompositionProfile.Measure(profile, DecompositionStep.LdlqSweeps))
                BlockLdlqSweeps.Run(state, factors, sweeps, g: work, threads);
        ScratchBuffers.Return(scratch, work, residual, factors.H, factors.Lower);
        return (rounded, codes, wordsPerRow);
    }

    internal static int ChunkCount(int rows) => (rows + RowsPerChunk - 1) / RowsPerChunk;

    /// <summary>
    /// H padded to whole blocks (n'×n'), the unit block-lower factor L of H = L·D·Lᵀ (n'×n') and the inverses of
    /// H's 8×8 diagonal blocks, row-major in fp32.
    /// </summary>
    internal sealed record Factors(int Padded, float[] H, float[] Lower, float[][] DiagonalInverse);

    internal static Factors Factor(Matrix<double> h, int blocks, int threads, ScratchBuffers? scratch = null)
    {
        int n = h.Rows, padded = blocks * Block;
        double meanDiagonal = 0;
        for (int i = 0; i < n; i++) meanDiagonal += h[i, i];
        meanDiagonal /= n;

        // In fp32 first, as QuIP# factors H_q: half the bytes and twice the lanes of fp64 (a 4096² factor went from
        // ≈ 0.9 to ≈ 0.4 s), and H_q is damped well above fp32's rounding. H's fp32 copy and its diagonal blocks'
        // inverses are taken before the copy is factored in place.
        var single = Padded(h, padded, meanDiagonal, jitter: 0, ScratchBuffers.Rent<float>(scratch, (long)padded * padded));
        var hFloat = ScratchBuffers.Rent<float>(scratch, single.Data.LongLength);
        single.Data.CopyTo(hFloat, 0);
        if (Cholesky.TryFactorInPlace(single.Data, padded, threads))
        {
            BlockLdl.ToUnitBlockLower(single.Data, padded, Block, threads);
            return new Factors(padded, hFloat, single.Data, DiagonalInverses(hFloat, padded));
        }

        // fp32 rounding made the copy indefinite (QuIP# then retries in fp64): factor in fp64, adding damping as
        // long as that fails too, each attempt in a copy rebuilt with the damping added so far.
        double added = 0, jitter = 1e-6 * meanDiagonal;
        for (int attempt = 0; ; attempt++)
        {
            var hp = Padded(h, padded, meanDiagonal, added, new double[(long)padded * padded]);
            hFloat = hp.Convert<float>().Data;
            if (BlockLdl.TryDecomposeInPlace(hp, Block, out var ldl, threads))
                return new Factors(padded, hFloat, ldl.Lower.Convert<float>().Data, DiagonalInverses(hFloat, padded));
            if (attempt == 6) throw new InvalidOperationException("BlockLDLQ: the Hessian is not positive definite even after damping.");
            added += jitter;
            jitter *= 10;
        }
    }

    /// <summary>
    /// H padded to n'×n' (pad dimensions: the mean diagonal, no cross terms), plus <paramref name="jitter"/>·I, written
    /// over all of <paramref name="storage"/> (n'² elements, any contents).
    /// </summary>
    private static Matrix<T> Padded<T>(Matrix<double> h, int padded, double meanDiagonal, double jitter, T[] storage)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        int n = h.Rows;
        var hp = new Matrix<T>(padded, padded, storage);
        for (int i = 0; i < padded; i++)
        {
            var row = hp.Row(i);
            row.Clear();
            if (i < n)
            {
                ReadOnlySpan<double> source = h.Row(i);
                for (int j = 0; j < n; j++) row[j] = T.CreateTruncating(source[j]);
            }
            row[i] = T.CreateTruncating((i < n ? h[i, i] : meanDiagonal) + jitter);
        }
        return hp;
    }

    /// <summary>H_jj⁻¹ of each 8×8 diagonal block of the fp32 H the sweeps use, solved in fp64.</summary>
    private static float[][] DiagonalInverses(float[] h, int padded)
    {
        var inverses = new float[padded / Block][];
        var block = new Matrix<double>(Block, Block);
        for (int j = 0; j < inverses.Length; j++)
        {
            for (int r = 0; r < Block; r++)
                for (int c = 0; c < Block; c++) block[r, c] = h[(j * Block + r) * padded + j * Block + c];
            inverses[j] = DenseOps.SolveSymmetric(block, Matrix<double>.Identity(Block), 1).Convert<float>().Data;
        }
        return inverses;
    }
}
