using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Inference;

internal sealed partial class CompressedLinear
{
    /// <summary>A batch (prefill) in float: each block of rows decoded once, then applied to all N tokens by register-tiled products.</summary>
    private unsafe class Prefill(CompressedLinear linear, int rowGrain) : Pass(linear, rowGrain)
    {
        protected override void Factor(int start, int end, int worker) => FactorByDecodedRows(start, end, worker);

        // z = Q·u for N tokens in float: RowBlock rows decoded once, then a register-tiled product applies them to all N tokens.
        protected override void Quantized(int start, int end, int worker)
        {
            int n = Columns, wordsPerRow = D.QWordsPerRow;
            bool e8p = D.QKind == QCodeKind.E8P;
            int maxLevel = e8p ? 0 : D.MaxUniformCode / 2;
            ReadOnlySpan<ushort> codes = D.QCodes.Span;
            Span<float> scratch = Linear._pool.Scratch(worker, 2 * MatMul.ScratchLength(n));
            Span<float> block = scratch[..MatMul.ScratchLength(n)], tile = scratch[MatMul.ScratchLength(n)..];
            ReadOnlySpan<float> tokens = U.AsSpan(0, N * n);
            for (int i = start; i < end; i += RowBlock)
            {
                int m = Math.Min(RowBlock, end - i);
                for (int k = 0; k < m; k++)
                {
                    var words = codes.Slice((i + k) * wordsPerRow, wordsPerRow);
                    Span<float> row = block.Slice(k * n, n);
                    if (e8p) CodedRows.DecodeE8P(words, row, Path);
                    else
                        for (int j = 0; j < n; j++) row[j] = words[j] - maxLevel;
                }
                MatMul.Multiply(MemoryMarshal.AsBytes(block[..(m * n)]), TensorType.F32, m, tokens, N,
                    new Span<float>(Y + i, (N - 1) * Rows + m), Rows, tile, Path);
            }
            ScaleRows(start, end);
        }

        // z ← s_Q·z for every token's rows [start, end)
        protected void ScaleRows(int start, int end)
        {
            for (int t = 0; t < N; t++)
            {
                var y = YOf(t, start, end - start);
                TensorPrimitives.Multiply(y, D.QScale, y);
            }
        }

        protected override void LowRank(int start, int end, int worker)
        {
            if (D.FactorBits == 16)
            {
                LowRankHalves(start, end, worker);
                return;
            }
            // The slice of every column of L decoded once, then all tokens' updates in registers.
            int length = end - start, rowWords = E8PResidualLattice.WordCount(Rows), blockWords = E8PResidualLattice.WordCount(length);
            int first = start / E8PLattice.Dimension * E8PResidualLattice.WordsPerVector;
            ReadOnlySpan<ushort> codes = D.LTransposedCodes.Span;
            Span<float> block = Linear._pool.Scratch(worker, Rank * length);
            for (int r = 0; r < Rank; r++)
                CodedRows.DecodeResidual(codes.Slice(r * rowWords + first, blockWords), block.Slice(r * length, length), Path);
            RankUpdate.Add(block, length, A.AsSpan(0, N * Rank), N, new Span<float>(Y + start, (N - 1) * Rows + length), Rows, Path);
        }
    }
}
