using System.Diagnostics;
using Caldera.Compiler.LinearAlgebra;
using Caldera.Compiler.Quantizers;

namespace Caldera.Compiler.Decomposition;

/// <summary>
/// BlockLDLQ (QuIP#): rounds B (m×n) to lattice codewords, 8 columns at a time, minimising tr(E·H·Eᵀ) with
/// E = B − Q̂ by feeding back the error already made. With H = L·D·Lᵀ (L unit block-lower-triangular, blocks of 8),
/// column blocks j = J−1 … 0 are rounded as Q̂_j = NN(B_j + E_{>j}·L_{>j,j}); then refinement sweeps re-round each
/// block at its coordinate-wise optimum given all others, T_j = Q̂_j + (E·H)_j·H_jj⁻¹, updating E·H as codes change.
/// </summary>
/// <remarks>
/// <para>The objective is a sum over rows (each row r contributes e_r·H·e_rᵀ), so rows are independent: they are
/// processed in fixed chunks on any number of threads with identical arithmetic, which keeps results
/// independent of the thread count.</para>
/// <para>n not a multiple of 8: H is padded to n' = ⌈n/8⌉·8 with unit-variance dimensions that have no cross terms,
/// so they never feed error into real columns, and the last 8-vector of each row is rounded on its real
/// coordinates only (the codebook treats the pad coordinates as free). Q̂ and E keep zeros there.</para>
/// </remarks>
internal static class BlockLdlq
{
    private const int Block = 8;
    private const int RowsPerChunk = 16;

    /// <summary>Rounds <paramref name="b"/> against <paramref name="h"/>; returns Q̂ (m×n) and the codes (m × words per row).</summary>
    public static (Matrix<float> Rounded, ushort[] Codes, int WordsPerRow) Round(Matrix<float> b, Matrix<double> h,
        ILatticeCodebook codebook, QRounding rounding, int sweeps, int threads, DecompositionProfile? profile = null)
    {
        int m = b.Rows, n = b.Cols;
        int blocks = (n + Block - 1) / Block;
        int wordsPerRow = blocks * codebook.WordsPerVector;
        var rounded = new Matrix<float>(m, n);
        var codes = new ushort[(long)m * wordsPerRow];
        int chunks = (m + RowsPerChunk - 1) / RowsPerChunk;

        if (rounding == QRounding.Nearest)
        {
            using var nearest = DecompositionProfile.Measure(profile, DecompositionStep.LdlqPass);
            Parallelism.For(chunks, threads, c =>
            {
                for (int r = c * RowsPerChunk; r < Math.Min(m, (c + 1) * RowsPerChunk); r++)
                    codebook.QuantizeRow(b.Row(r), rounded.Row(r), codes.AsSpan(r * wordsPerRow, wordsPerRow));
            });
            return (rounded, codes, wordsPerRow);
        }

        Factors factors;
        using (DecompositionProfile.Measure(profile, DecompositionStep.LdlFactor))
            factors = Factor(h, blocks);
        long start = Stopwatch.GetTimestamp(), passTicks = 0, sweepTicks = 0;
        Parallelism.For(chunks, threads, c =>
        {
            int r0 = c * RowsPerChunk, rows = Math.Min(m, r0 + RowsPerChunk) - r0;
            var (pass, sweep) = new ChunkRounder(b, rounded, codes, wordsPerRow, codebook, factors, r0, rows).Run(sweeps);
            Interlocked.Add(ref passTicks, pass);
            Interlocked.Add(ref sweepTicks, sweep);
        });
        profile?.AddSplit(DecompositionStep.LdlqPass, passTicks, DecompositionStep.LdlqSweeps, sweepTicks, Stopwatch.GetTimestamp() - start);
        return (rounded, codes, wordsPerRow);
    }

    /// <summary>
    /// H padded to whole blocks, the block-LDLᵀ lower factor as one contiguous panel per block (panel j = rows
    /// below block j of its 8 columns, (n' − 8j − 8)×8) and the inverses of H's diagonal blocks, in fp32.
    /// </summary>
    internal sealed record Factors(int Padded, float[] H, float[][] LowerPanels, float[][] DiagonalInverse);

    private static Factors Factor(Matrix<double> h, int blocks)
    {
        int n = h.Rows, padded = blocks * Block;
        var hp = new Matrix<double>(padded, padded);
        double meanDiagonal = 0;
        for (int i = 0; i < n; i++) meanDiagonal += h[i, i];
        meanDiagonal /= n;
        for (int i = 0; i < n; i++) h.Row(i).CopyTo(hp.Row(i)[..n]);
        for (int i = n; i < padded; i++) hp[i, i] = meanDiagonal;

        // The Hessian is damped, so this succeeds at once in practice; keep a bounded retry for the rest.
        BlockLdl? ldl;
        double jitter = 1e-6 * meanDiagonal;
        for (int attempt = 0; !BlockLdl.TryDecompose(hp, Block, out ldl); attempt++)
        {
            if (attempt == 6) throw new InvalidOperationException("BlockLDLQ: the Hessian is not positive definite even after damping.");
            for (int i = 0; i < padded; i++) hp[i, i] += jitter;
            jitter *= 10;
        }

        var inverses = new float[blocks][];
        for (int j = 0; j < blocks; j++)
        {
            var block = hp.Slice(j * Block, Block, j * Block, Block);
            var inverse = DenseOps.SolveSymmetric(block, Matrix<double>.Identity(Block), 1);
            inverses[j] = inverse.Convert<float>().Data;
        }
        var panels = new float[blocks][];
        for (int j = 0; j < blocks; j++)
        {
            int below = (j + 1) * Block;
            var panel = panels[j] = new float[(padded - below) * Block];
            for (int i = below; i < padded; i++)
                for (int c = 0; c < Block; c++) panel[(i - below) * Block + c] = (float)ldl.Lower[i, j * Block + c];
        }
        return new Factors(padded, hp.Convert<float>().Data, panels, inverses);
    }

    /// <summary>One chunk of rows: its residual E and, for the sweeps, G = E·H.</summary>
    /// <remarks>
    /// Rows never interact, so each block is rounded for all rows of the chunk in one batched search (the targets
    /// first, then the codes, then E and G row by row), with the same arithmetic per row as one row at a time.
    /// </remarks>
    private sealed class ChunkRounder(Matrix<float> b, Matrix<float> rounded, ushort[] codes, int wordsPerRow,
        ILatticeCodebook codebook, Factors f, int r0, int rows)
    {
        private readonly int _n = b.Cols;
        private readonly float[] _e = new float[rows * f.Padded];
        private readonly float[] _t = new float[rows * Block];
        private readonly float[] _q = new float[rows * Block];
        private readonly ushort[] _words = new ushort[rows * codebook.WordsPerVector];

        /// <summary>Rounds the chunk; returns the timestamp ticks spent in the first pass and in the sweeps.</summary>
        public (long Pass, long Sweeps) Run(int sweeps)
        {
            long start = Stopwatch.GetTimestamp();
            int blocks = f.Padded / Block;
            for (int j = blocks - 1; j >= 0; j--) FirstPass(j);
            long passEnd = Stopwatch.GetTimestamp();
            if (sweeps == 0) return (passEnd - start, 0);

            var g = new float[rows * f.Padded];
            Gemm.Multiply(Op.N, Op.N, rows, f.Padded, f.Padded, 1f, _e, f.Padded, f.H, f.Padded, 0f, g, f.Padded, 1);
            for (int s = 0; s < sweeps; s++)
                for (int j = blocks - 1; j >= 0; j--) Refine(j, g);
            return (passEnd - start, Stopwatch.GetTimestamp() - passEnd);
        }

        /// <summary>T_j = B_j + E_{>j}·L_{>j,j}, then nearest codewords.</summary>
        private void FirstPass(int j)
        {
            int c0 = j * Block, width = Math.Min(Block, _n - c0), rest = f.Padded - c0 - Block;
            Array.Clear(_t);
            for (int i = 0; i < rows; i++) b.Row(r0 + i).Slice(c0, width).CopyTo(_t.AsSpan(i * Block, width));
            if (rest > 0) BlockFeedback.Accumulate(_e.AsSpan(c0 + Block), f.Padded, rows, rest, f.LowerPanels[j], _t);
            RoundBlock(j, null);
        }

        /// <summary>T_j = Q̂_j + G_j·H_jj⁻¹ for every row; where a code changes, E and G follow.</summary>
        private void Refine(int j, float[] g)
        {
            int c0 = j * Block;
            var inverse = f.DiagonalInverse[j];
            for (int i = 0; i < rows; i++)
            {
                var gRow = g.AsSpan(i * f.Padded + c0, Block);
                var qRow = rounded.Row(r0 + i);
                var t = _t.AsSpan(i * Block, Block);
                for (int c = 0; c < Block; c++)
                {
                    float sum = c0 + c < _n ? qRow[c0 + c] : 0f;
                    for (int d = 0; d < Block; d++) sum += gRow[d] * inverse[d * Block + c];
                    t[c] = sum;
                }
            }
            RoundBlock(j, g);
        }

        /// <summary>Rounds block j of every row to the nearest codeword of its target in _t; updates E (and G).</summary>
        private void RoundBlock(int j, float[]? g)
        {
            int c0 = j * Block, width = Math.Min(Block, _n - c0), words = codebook.WordsPerVector;
            if (width == Block)
                codebook.QuantizeRow(_t, _q, _words);
            else
                for (int i = 0; i < rows; i++)
                    codebook.QuantizeRow(_t.AsSpan(i * Block, width), _q.AsSpan(i * Block, width), _words.AsSpan(i * words, words));

            for (int i = 0; i < rows; i++)
            {
                int r = r0 + i;
                _words.AsSpan(i * words, words).CopyTo(codes.AsSpan(r * wordsPerRow + j * words, words));
                var q = _q.AsSpan(i * Block, width);
                var qRow = rounded.Row(r);
                var bRow = b.Row(r);
                var eRow = _e.AsSpan(i * f.Padded, f.Padded);
                for (int c = 0; c < width; c++)
                {
                    float delta = q[c] - qRow[c0 + c];
                    if (delta == 0) continue;
                    qRow[c0 + c] = q[c];
                    eRow[c0 + c] = bRow[c0 + c] - q[c];
                    // G_r = E_r·H: a change of −δ in E[r, c] changes G_r by −δ·H[c, :].
                    if (g != null)
                    {
                        var hRow = f.H.AsSpan((c0 + c) * f.Padded, f.Padded);
                        var gRow = g.AsSpan(i * f.Padded, f.Padded);
                        System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(hRow, -delta, gRow, gRow);
                    }
                }
            }
        }
    }
}
