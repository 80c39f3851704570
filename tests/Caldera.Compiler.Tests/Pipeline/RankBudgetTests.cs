using Caldera.Compiler.Calibration;
using Caldera.Compiler.Decomposition;
using Caldera.Compiler.LinearAlgebra;
using Caldera.Compiler.Pipeline;
using Caldera.Compiler.Tests.LinearAlgebra;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tokenization;

namespace Caldera.Compiler.Tests.Pipeline;

/// <summary><c>--bits</c>: a bits-per-weight budget split into ranks where they remove the most error.</summary>
public class RankBudgetTests
{
    private static readonly CalderaOptions Tiny = CalderaOptions.Fast with { Rank = 4, OuterIterations = 2, InnerIterations = 3, RefinementSweeps = 1 };

    [Theory]
    [InlineData(3.2)]
    [InlineData(4.5)]
    public void The_layers_stay_within_the_budget_and_the_same_inputs_give_the_same_ranks(double bits)
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        var budget = RankBudget.For(bits, model.Config, classifier: false);
        var plan = new CompressionPlan { Method = CompressionMethod.Caldera, Decomposition = Tiny, Budget = budget, Threads = 2, ParallelMatrices = 2 };
        var calibration = CalibrationSet.Create(new CalibrationText(TestModels.TinyStoriesPrefix(20_000), "tinystories prefix"),
            ModelTokenizer.Load(TestModels.Tok512Model), samples: 2, sequenceLength: 32);
        var content = new ModelCompressor(plan).Compress(model, calibration, null, "00", null);

        // Counted from what is stored: each matrix's own bits (the shared transforms are in the budget's PerMatrixBits already).
        double own = 0, pool = 0;
        foreach (var m in content.Matrices)
        {
            long shared = (m.InputTransform?.StoredBits ?? 0) + (m.OutputTransform?.StoredBits ?? 0);
            own += m.StoredBits - shared;
            pool += budget.PerMatrixBits * m.Rows * m.Columns;
        }
        Assert.True(own <= pool, $"the matrices store {own} bits, over the pool of {pool}");
        Assert.Equal(content.Matrices.Max(m => m.Rank), content.Settings.Rank);
        Assert.True(content.Matrices.Select(m => m.Rank).Distinct().Count() > 1, "every matrix got the same rank");
        var counted = BitsPerWeight.Of(content, fileBytes: 1);
        Assert.True(counted.LinearLayers <= bits, $"linear layers at {counted.LinearLayers} bits per weight, over the budget {bits}");

        var again = new ModelCompressor(plan with { Threads = 1, ParallelMatrices = 1 }).Compress(model, calibration, null, "00", null);
        Assert.Equal(content.Matrices.Select(m => (m.Name, m.Rank)), again.Matrices.Select(m => (m.Name, m.Rank)));
    }

    [Fact]
    public void A_compressed_classifier_takes_its_share_of_the_same_budget()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        const double bits = 3.5;
        var budget = RankBudget.For(bits, model.Config, classifier: true);
        var plan = new CompressionPlan
        {
            Method = CompressionMethod.Caldera, Decomposition = Tiny, Budget = budget, ClassifierStorage = ClassifierStorage.Caldera,
            Threads = 2, ParallelMatrices = 2,
        };
        var calibration = CalibrationSet.Create(new CalibrationText(TestModels.TinyStoriesPrefix(20_000), "tinystories prefix"),
            ModelTokenizer.Load(TestModels.Tok512Model), samples: 2, sequenceLength: 32);
        var content = new ModelCompressor(plan).Compress(model, calibration, null, "00", null);

        var classifier = content.Matrices.Single(m => m.Name == TensorNames.Output);
        Assert.InRange(classifier.Rank, 1, Math.Min(classifier.Rows, classifier.Columns));
        double own = content.Matrices.Sum(m => (double)(m.StoredBits - (m.InputTransform?.StoredBits ?? 0) - (m.OutputTransform?.StoredBits ?? 0)));
        double pool = content.Matrices.Sum(m => budget.PerMatrixBits * m.Rows * m.Columns);
        Assert.True(own <= pool, $"the matrices store {own} bits, over the pool of {pool}");
    }

    [Fact]
    public void The_ranks_are_the_split_of_the_pool_that_removes_the_most_error()
    {
        // Three matrices of one shape, so every rank costs the same: the best split of E extra ranks takes the E largest
        // gains beyond each matrix's first rank; checked against every split there is.
        const int rows = 64, columns = 64;
        double[][] gains =
        [
            [.. Enumerable.Range(0, 12).Select(k => 0.5 * Math.Pow(0.7, k))],
            [.. Enumerable.Range(0, 12).Select(k => 0.3 * Math.Pow(0.9, k))],
            [.. Enumerable.Range(0, 12).Select(k => 0.9 * Math.Pow(0.4, k))],
        ];
        var matrices = gains.Select((g, i) => new BudgetedMatrix($"m{i}", rows, columns, g)).ToArray();
        for (int extra = 0; extra <= 20; extra++)
        {
            var budget = BudgetFor(rows, columns, matrices.Length, ranks: matrices.Length + extra);
            int[] ranks = budget.Allocate(matrices, factorBits: 4);
            Assert.Equal(matrices.Length + extra, ranks.Sum());
            double best = 0;
            for (int a = 1; a <= 12; a++)
                for (int b = 1; b <= 12; b++)
                {
                    int c = matrices.Length + extra - a - b;
                    if (c is >= 1 and <= 12) best = Math.Max(best, Removed(gains[0], a) + Removed(gains[1], b) + Removed(gains[2], c));
                }
            Assert.Equal(best, Removed(gains[0], ranks[0]) + Removed(gains[1], ranks[1]) + Removed(gains[2], ranks[2]), 12);
        }
    }

    [Fact]
    public void A_matrix_of_rank_4_plus_noise_gets_4_ranks_and_the_rest_go_to_the_noise()
    {
        // A: four equal directions and faint noise; B: Gaussian noise alone. A's first four ranks remove a quarter of its
        // error each, a fifth only noise (10⁻⁴ of it); each of B's first ten removes a few percent. Ten ranks: A's four, B's six.
        const int n = 64;
        var structure = Gemm.Multiply(Op.N, HouseholderQr.Decompose(TestMatrices.Gaussian(n, 4, seed: 1)).Q, Op.T, HouseholderQr.Decompose(TestMatrices.Gaussian(n, 4, seed: 2)).Q);
        var noise = TestMatrices.Gaussian(n, n, seed: 3);
        var a = new Matrix<float>(n, n);
        for (int i = 0; i < a.Data.Length; i++) a.Data[i] = (float)(8 * structure.Data[i] + 0.01 * noise.Data[i]);
        var b = TestMatrices.GaussianSingle(n, n, seed: 4);
        var h = Matrix<float>.Identity(n);
        BudgetedMatrix[] matrices =
        [
            new("a", n, n, Relative(WeightedSpectrum.Of(a, h, 16, threads: 1), a)),
            new("b", n, n, Relative(WeightedSpectrum.Of(b, h, 16, threads: 1), b)),
        ];

        int[] ranks = BudgetFor(n, n, 2, ranks: 10).Allocate(matrices, factorBits: 4);

        Assert.Equal([4, 6], ranks);

        // Each rank's share of ‖W·H^½‖² = ‖W‖²_F (H = I): the two priced alike per unit of relative error.
        static double[] Relative(WeightedSpectrum spectrum, Matrix<float> w) =>
            [.. spectrum.Squares.Select(s => s / w.Data.Sum(x => (double)x * x))];
    }

    [Fact]
    public void A_larger_budget_never_takes_a_rank_away_and_ties_go_to_the_earlier_matrix()
    {
        // Different shapes, so ranks cost differently; gains that tie between two matrices of one shape.
        BudgetedMatrix[] matrices =
        [
            new("q", 64, 64, [.. Enumerable.Range(0, 40).Select(k => 0.2 / (k + 1))]),
            new("gate", 172, 64, [.. Enumerable.Range(0, 40).Select(k => 0.3 / (k + 1))]),
            new("k", 64, 64, [.. Enumerable.Range(0, 40).Select(k => 0.2 / (k + 1))]),
        ];
        int[]? previous = null;
        // Budgets a hundredth of a bit apart: a greedy that skipped a rank too wide for what is left and bought cheaper ones
        // instead would, at a slightly larger budget, buy the wide one and then miss the cheaper ones.
        foreach (double bits in Enumerable.Range(0, 241).Select(i => 2.6 + i / 100.0))
        {
            var budget = new RankBudget(bits, bits);
            int[] ranks = budget.Allocate(matrices, factorBits: 4);
            Assert.Equal(ranks, budget.Allocate(matrices, factorBits: 4));
            Assert.InRange(ranks[0] - ranks[2], 0, 1);
            if (previous is not null) Assert.All(ranks.Zip(previous), r => Assert.True(r.First >= r.Second, $"{string.Join(',', ranks)} after {string.Join(',', previous)}"));
            previous = ranks;
        }
    }

    [Fact]
    public void On_a_real_model_a_larger_budget_never_takes_a_rank_away_and_the_pool_is_spent()
    {
        // The whole allocation (output Fisher, spectra, split) of stories260K at budgets a twentieth of a bit apart.
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        var calibration = CalibrationSet.Create(new CalibrationText(TestModels.TinyStoriesPrefix(20_000), "tinystories prefix"),
            ModelTokenizer.Load(TestModels.Tok512Model), samples: 2, sequenceLength: 32);
        var plan = new CompressionPlan { Method = CompressionMethod.Caldera, Decomposition = Tiny, Threads = 2 };
        Dictionary<string, int>? previous = null;
        foreach (double bits in Enumerable.Range(0, 9).Select(i => 3.2 + i / 20.0))
        {
            var budget = RankBudget.For(bits, model.Config, classifier: false);
            var ranks = new ModelCompressor(plan with { Budget = budget }).AllocateRanks(model, calibration, budget);
            Assert.Equal(5 * 7, ranks.Count);
            if (previous is not null)
            {
                Assert.All(ranks, r => Assert.True(r.Value >= previous[r.Key], $"{r.Key}: rank {r.Value} at {bits} bits, {previous[r.Key]} below it"));
                Assert.True(ranks.Values.Sum() > previous.Values.Sum(), $"{bits} bits bought no rank more than {bits - 0.05}");
            }
            previous = ranks;
        }
    }

    [Fact]
    public void A_budget_below_what_Q_costs_gives_no_rank_and_the_allocation_refuses_it()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        var budget = RankBudget.For(2.0, model.Config, classifier: false);
        Assert.Null(budget.RankFor(64, 64, 4));
        var e = Assert.Throws<ArgumentException>(() => budget.Allocate([new BudgetedMatrix("q", 64, 64, [0.5, 0.25])], factorBits: 4));
        Assert.Contains("is below what Q and one rank cost for these 1 matrices", e.Message);
        Assert.Throws<ArgumentException>(() => new CompressionPlan { Method = CompressionMethod.Ldlq, Budget = budget }.Validate());
    }

    /// <summary>
    /// A budget whose pool is Q and <paramref name="ranks"/> ranks in all for <paramref name="count"/> matrices of one shape,
    /// plus half a bit against rounding (a rank costs thousands).
    /// </summary>
    private static RankBudget BudgetFor(int rows, int columns, int count, int ranks)
    {
        double bits = count * (16.0 * rows * ((columns + 7) / 8) + 128) + ranks * 32.0 * ((rows + 7) / 8 + (columns + 7) / 8) + 0.5;
        double perWeight = bits / (count * (double)rows * columns);
        return new RankBudget(perWeight, perWeight);
    }

    /// <summary>What the first <paramref name="rank"/> ranks remove: the gains of ranks 2..rank (rank 1 is every matrix's).</summary>
    private static double Removed(double[] gains, int rank) => gains.Skip(1).Take(rank - 1).Sum();

    [Fact]
    public void A_budget_changes_the_cache_stamp()
    {
        var plan = new CompressionPlan { Method = CompressionMethod.Caldera };
        string stamp = plan.Stamp("00", "c", 1, 2, "t");
        Assert.NotEqual(stamp, (plan with { Budget = new RankBudget(3, 3) }).Stamp("00", "c", 1, 2, "t"));
        Assert.NotEqual((plan with { Budget = new RankBudget(3, 3) }).Stamp("00", "c", 1, 2, "t"), (plan with { Budget = new RankBudget(3.5, 3.5) }).Stamp("00", "c", 1, 2, "t"));
    }
}
