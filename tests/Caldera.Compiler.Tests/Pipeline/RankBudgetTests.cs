using Caldera.Compiler.Calibration;
using Caldera.Compiler.Decomposition;
using Caldera.Compiler.Pipeline;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tokenization;

namespace Caldera.Compiler.Tests.Pipeline;

/// <summary><c>--bits</c>: a bits-per-weight budget that sets each matrix's rank.</summary>
public class RankBudgetTests
{
    private static readonly CalderaOptions Tiny = CalderaOptions.Fast with { Rank = 4, OuterIterations = 2, InnerIterations = 3, RefinementSweeps = 1 };

    [Theory]
    [InlineData(3.2)]
    [InlineData(4.5)]
    public void Each_matrix_gets_the_largest_rank_within_the_budget_and_the_layers_stay_within_it(double bits)
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        var budget = RankBudget.For(bits, model.Config, classifier: false);
        var plan = new CompressionPlan { Method = CompressionMethod.Caldera, Decomposition = Tiny, Budget = budget, Threads = 2, ParallelMatrices = 2 };
        var calibration = CalibrationSet.Create(new CalibrationText(TestModels.TinyStoriesPrefix(20_000), "tinystories prefix"),
            ModelTokenizer.Load(TestModels.Tok512Model), samples: 2, sequenceLength: 32);
        var content = new ModelCompressor(plan).Compress(model, calibration, null, "00", null);

        // Counted from what is stored: each matrix's bits, and what one more rank would add (its factor words per rank).
        foreach (var m in content.Matrices)
        {
            long weights = (long)m.Rows * m.Columns;
            long shared = (m.InputTransform?.StoredBits ?? 0) + (m.OutputTransform?.StoredBits ?? 0);
            double own = (double)(m.StoredBits - shared) / weights;
            double oneMore = 16.0 * (m.LTransposedCodes.Length + m.RCodes.Length) / m.Rank / weights;
            Assert.True(own <= budget.PerMatrixBits, $"{m.Name}: {own} bits per weight at rank {m.Rank} > {budget.PerMatrixBits}");
            Assert.True(m.Rank == Math.Min(m.Rows, m.Columns) || own + oneMore > budget.PerMatrixBits, $"{m.Name}: rank {m.Rank + 1} would also fit");
        }
        // Wider matrices get larger ranks: ffn_gate (172×64) more than attn_q (64×64).
        Assert.True(content.Matrices.Single(m => m.Name == TensorNames.Gate(0)).Rank > content.Matrices.Single(m => m.Name == TensorNames.Query(0)).Rank);
        Assert.Equal(content.Matrices.Max(m => m.Rank), content.Settings.Rank);

        var counted = BitsPerWeight.Of(content, fileBytes: 1);
        Assert.True(counted.LinearLayers <= bits, $"linear layers at {counted.LinearLayers} bits per weight, over the budget {bits}");
    }

    [Fact]
    public void A_budget_below_what_Q_costs_gives_no_rank_and_the_plan_refuses_it()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        var budget = RankBudget.For(2.0, model.Config, classifier: false);
        Assert.Null(budget.RankFor(64, 64, 4));
        var plan = new CompressionPlan { Method = CompressionMethod.Caldera, Budget = budget };
        var e = Assert.Throws<ArgumentException>(() => plan.DecompositionFor(64, 64, 1));
        Assert.Contains("is below what Q and one rank cost for a 64×64 matrix", e.Message);
        Assert.Throws<ArgumentException>(() => new CompressionPlan { Method = CompressionMethod.Ldlq, Budget = budget }.Validate());
    }

    [Fact]
    public void A_budget_changes_the_cache_stamp()
    {
        var plan = new CompressionPlan { Method = CompressionMethod.Caldera };
        string stamp = plan.Stamp("00", "c", 1, 2, "t");
        Assert.NotEqual(stamp, (plan with { Budget = new RankBudget(3, 3) }).Stamp("00", "c", 1, 2, "t"));
        Assert.NotEqual((plan with { Budget = new RankBudget(3, 3) }).Stamp("00", "c", 1, 2, "t"), (plan with { Budget = new RankBudget(3.5, 3.5) }).Stamp("00", "c", 1, 2, "t"));
    }
}
