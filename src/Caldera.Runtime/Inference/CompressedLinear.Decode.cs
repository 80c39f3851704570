using System.Numerics.Tensors;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Inference;

internal sealed partial class CompressedLinear
{
    /// <summary>A decode step (one token) in float: fused decode-and-dot kernels over the code words.</summary>
    private unsafe class Decode(CompressedLinear linear, int rowGrain) : Pass(linear, rowGrain)
    {
        // t_r = s_R·⟨decode(row r of R), u⟩; 16-bit R through the decoded rows
        protected override void Factor(int start, int end, int worker)
        {
            if (D.FactorBits != 4)
            {
                FactorByDecodedRows(start, end, worker);
                return;
            }
            int words = E8PResidualLattice.WordCount(Columns);
            ReadOnlySpan<ushort> codes = D.RCodes.Span;
            Span<float> u = UOf(0);
            for (int r = start; r < end; r++) T[r] = D.RScale * Linear._kernels.DotR(codes.Slice(r * words, words), u);
        }

        protected override void Quantized(int start, int end, int worker)
        {
            int wordsPerRow = D.QWordsPerRow;
            float scale = D.QScale;
            ReadOnlySpan<ushort> codes = D.QCodes.Span;
            Span<float> u = UOf(0);
            if (D.QKind == QCodeKind.E8P)
            {
                var y = YOf(0, start, end - start);
                Linear._kernels.DotQRows(codes.Slice(start * wordsPerRow, (end - start) * wordsPerRow), u, y);
                TensorPrimitives.Multiply(y, scale, y);
                return;
            }
            int maxLevel = D.MaxUniformCode / 2;
            for (int i = start; i < end; i++) Y[i] = scale * CodedRows.DotUniform(codes.Slice(i * wordsPerRow, wordsPerRow), maxLevel, u, Path);
        }

        protected override void LowRank(int start, int end, int worker)
        {
            if (D.FactorBits == 16) LowRankHalves(start, end, worker);
            else LowRankAllRanks(start, end);
        }
    }
}
