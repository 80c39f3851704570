using Caldera.Runtime.Incoherence;
using Caldera.Runtime.Model;

namespace Caldera.Compiler.Pipeline;

/// <summary>
/// <c>caldera compress --bits b</c>: each matrix gets the largest rank at which the linear layers stay within b bits per
/// weight, instead of one rank for all. A rank costs 4(m+n)/(mn) bits per weight with 4-bit factors, so at the same budget
/// a wide matrix (ffn_gate, ffn_up, ffn_down, the classifier) gets a larger rank than a square attention one: every matrix
/// is stored at about the same bits per weight.
/// </summary>
/// <remarks>
/// The count is <see cref="Runtime.Compression.CompressedLinearData.StoredBits"/>'s: Q's E8P words (16 bits per 8 weights),
/// the factors' words (two per 8-vector of Lᵀ and R) or halves, and four fp32 scales per matrix; the transforms' signs and
/// fallback blocks are stored once per dimension and side for the whole model, so their share of the block matrices' weights is
/// taken off b first (<see cref="PerMatrixBits"/>). This spends bits evenly by weight; it does not weigh where a rank lowers
/// the loss most.
/// </remarks>
internal sealed record RankBudget(double BitsPerWeight, double PerMatrixBits)
{
    /// <summary>
    /// The budget <paramref name="bitsPerWeight"/> for the block matrices of a model of <paramref name="config"/> (and its
    /// classifier when <paramref name="classifier"/>): what each matrix may spend once the shared transforms are paid for.
    /// </summary>
    public static RankBudget For(double bitsPerWeight, LlamaConfig config, bool classifier)
    {
        var c = config;
        long weights = (long)c.LayerCount * (2L * c.QDim * c.Dim + 2L * c.KvDim * c.Dim + 3L * c.HiddenDim * c.Dim);
        // SU and SV draw from different seeds: one transform per input dimension and one per output dimension.
        int[] inputs = [.. new[] { c.Dim, c.QDim, c.HiddenDim }.Distinct()];
        int[] outputs = [.. new[] { c.QDim, c.KvDim, c.Dim, c.HiddenDim }.Concat(classifier ? [c.VocabSize] : []).Distinct()];
        double shared = inputs.Concat(outputs).Sum(TransformBits);
        return new RankBudget(bitsPerWeight, bitsPerWeight - shared / weights);
    }

    /// <summary>The largest rank (at least 1, at most min(m, n)) whose matrix stays within <see cref="PerMatrixBits"/>; null when even rank 1 exceeds it.</summary>
    public int? RankFor(int rows, int columns, int factorBits)
    {
        long words = (columns + 7) / 8;
        double fixedBits = 16.0 * rows * words + 4 * 32;
        double perRank = factorBits == 4 ? 32.0 * ((rows + 7) / 8 + words) : 16.0 * ((long)rows + columns);
        double rank = Math.Floor((PerMatrixBits * rows * columns - fixedBits) / perRank);
        return rank < 1 ? null : (int)Math.Min(rank, Math.Min(rows, columns));
    }

    /// <summary>One dimension's signs, and its fallback block where it has no Hadamard construction.</summary>
    private static double TransformBits(int n)
    {
        var transform = HadamardTransform.Create(n, seed: 0);
        return n + (transform.IsHadamard ? 0 : 32.0 * transform.Block.Length);
    }
}
