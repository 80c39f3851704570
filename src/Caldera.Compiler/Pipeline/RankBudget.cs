using Caldera.Runtime.Incoherence;
using Caldera.Runtime.Model;

namespace Caldera.Compiler.Pipeline;

/// <summary>
/// <c>caldera compress --bits b</c>: the linear layers stay within b bits per weight, and the ranks those bits buy go
/// where they remove the most error (<see cref="Allocate"/>), instead of one rank for all.
/// </summary>
/// <remarks>
/// The count is <see cref="Runtime.Compression.CompressedLinearData.StoredBits"/>'s: Q's E8P words (16 bits per 8 weights),
/// the factors' words (two per 8-vector of Lᵀ and R) or halves, and four fp32 scales per matrix; the transforms' signs and
/// fallback blocks are stored once per dimension and side for the whole model, so their share of the block matrices' weights is
/// taken off b first (<see cref="PerMatrixBits"/>). What is left, <see cref="PerMatrixBits"/> times every compressed weight,
/// is the pool <see cref="Allocate"/> spends.
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

    /// <summary>
    /// The largest rank (at least 1, at most min(m, n)) at which matrix [<paramref name="rows"/>, <paramref name="columns"/>]
    /// alone stays within <see cref="PerMatrixBits"/>, the rank of spending evenly by weight; null when even rank 1 exceeds it.
    /// </summary>
    public int? RankFor(int rows, int columns, int factorBits)
    {
        double rank = Math.Floor((PerMatrixBits * rows * columns - FixedBits(rows, columns)) / BitsPerRank(rows, columns, factorBits));
        return rank < 1 ? null : (int)Math.Min(rank, Math.Min(rows, columns));
    }

    /// <summary>
    /// Each matrix's rank, from what each rank is worth: greedily, the next rank of the matrix whose next rank removes the
    /// most loss per bit (<see cref="BudgetedMatrix.Gains"/>[k] / its bits per rank) until the next such rank does not fit
    /// the pool, <see cref="PerMatrixBits"/> × all their weights. Every matrix gets rank 1 first (CALDERA needs factors).
    /// </summary>
    /// <remarks>
    /// With each matrix's gains non-increasing (a spectrum's), every matrix's loss is convex in its rank, and buying by gain
    /// per bit is the best split of the pool where ranks cost alike (and short of the best by at most the gain of the rank
    /// that did not fit where they do not). The ranks are bought in one order whatever the pool, and buying stops at the first that does not fit, so a
    /// larger budget buys a longer prefix of that order: no matrix loses a rank when the budget rises. What the stop leaves
    /// unspent is less than one rank of the widest matrix. Ties go to the earlier matrix: the result depends on the inputs
    /// alone. Gains of zero buy nothing and are not bought.
    /// </remarks>
    /// <returns>The ranks, in <paramref name="matrices"/>' order.</returns>
    /// <exception cref="ArgumentException">The pool does not cover Q and one rank of every matrix.</exception>
    public int[] Allocate(IReadOnlyList<BudgetedMatrix> matrices, int factorBits)
    {
        double pool = 0, spent = 0;
        var ranks = new int[matrices.Count];
        var queue = new PriorityQueue<int, (double Value, int Index)>(Comparer<(double Value, int Index)>.Create(
            (a, b) => a.Value != b.Value ? b.Value.CompareTo(a.Value) : a.Index.CompareTo(b.Index)));
        for (int i = 0; i < matrices.Count; i++)
        {
            var m = matrices[i];
            pool += PerMatrixBits * m.Rows * m.Columns;
            spent += FixedBits(m.Rows, m.Columns) + BitsPerRank(m.Rows, m.Columns, factorBits);
            ranks[i] = 1;
            Offer(i);
        }
        if (spent > pool)
            throw new ArgumentException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"a budget of {BitsPerWeight} bits per weight is below what Q and one rank cost for these {matrices.Count} matrices."), nameof(matrices));
        while (queue.TryDequeue(out int i, out _))
        {
            double cost = BitsPerRank(matrices[i].Rows, matrices[i].Columns, factorBits);
            if (spent + cost > pool) break;
            spent += cost;
            ranks[i]++;
            Offer(i);
        }
        return ranks;

        // Queue matrix i's next rank (rank ranks[i] + 1 removes Gains[ranks[i]]) while there is one worth buying.
        void Offer(int i)
        {
            var m = matrices[i];
            if (ranks[i] >= Math.Min(m.Rows, m.Columns) || ranks[i] >= m.Gains.Count || !(m.Gains[ranks[i]] > 0)) return;
            queue.Enqueue(i, (m.Gains[ranks[i]] / BitsPerRank(m.Rows, m.Columns, factorBits), i));
        }
    }

    /// <summary>Q's E8P words and the four fp32 scales.</summary>
    private static double FixedBits(int rows, int columns) => 16.0 * rows * ((columns + 7) / 8) + 4 * 32;

    /// <summary>One rank: a column of L and a row of R, as 4-bit lattice words per 8-vector or as halves.</summary>
    private static double BitsPerRank(int rows, int columns, int factorBits) =>
        factorBits == 4 ? 32.0 * ((rows + 7) / 8 + (columns + 7) / 8) : 16.0 * ((long)rows + columns);

    /// <summary>One dimension's signs, and its fallback block where it has no Hadamard construction.</summary>
    private static double TransformBits(int n)
    {
        var transform = HadamardTransform.Create(n, seed: 0);
        return n + (transform.IsHadamard ? 0 : 32.0 * transform.Block.Length);
    }
}
