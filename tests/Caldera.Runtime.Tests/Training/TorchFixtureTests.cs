using System.Text.Json;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;
using Caldera.Runtime.Training.Model;
using Caldera.Runtime.Training.Optimization;

namespace Caldera.Runtime.Tests.Training;

/// <summary>
/// Caldera's fp32 training pass and AdamW against PyTorch's autograd and torch.optim.AdamW (scripts/torch-lora-check.py,
/// whose output is committed as Fixtures/stories260K-lora-torch.json): stories260K with trainable rank-4 factors beside
/// every block matrix, y = W·x + L·(R·x), one fixed window of 32 tokens, ten steps.
/// </summary>
public class TorchFixtureTests
{
    /// <summary>Two fp32 implementations summing in different orders: ~1e-6 apart; a wrong term is of the gradient's size.</summary>
    private const double GradientTolerance = 1e-4;

    /// <summary>
    /// Ten steps compound the fp32 differences a little (Adam's m/√v amplifies a near-zero gradient's rounding), yet a
    /// wrong update rule, schedule or clipping moves the losses by far more than this.
    /// </summary>
    private const double LossTolerance = 1e-4;

    private static readonly string[] Slots = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"];

    [Fact]
    public void Gradients_and_ten_AdamW_steps_match_PyTorch()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Training", "Fixtures", "stories260K-lora-torch.json")));
        var f = document.RootElement;
        int rank = f.GetProperty("rank").GetInt32(), steps = f.GetProperty("steps").GetInt32();
        var tokens = f.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        int t = tokens.Length - 1;
        using var checkpoint = ModelCheckpoint.Open(TestModels.Stories260KBin);
        var model = TrainableModel.WithFactors(checkpoint, rank, (name, rows, columns) => Initial(name, rows, columns, rank));
        using var pool = new WorkerPool(2);
        var pass = new WindowPass(model, pool, t);
        var optimizer = new AdamW(model.Trained, f.GetProperty("weight_decay").GetDouble(), f.GetProperty("clip_norm").GetDouble());
        var schedule = new LearningRateSchedule(f.GetProperty("learning_rate").GetDouble(), f.GetProperty("warmup_steps").GetInt32(), steps);
        var expectedLosses = f.GetProperty("losses").EnumerateArray().Select(e => e.GetDouble()).ToArray();

        for (int step = 1; step <= steps; step++)
        {
            model.ClearGradients();
            double loss = pass.Accumulate(tokens.AsSpan(0, t), tokens.AsSpan(1, t), 1f / t) / t;
            Assert.True(Math.Abs(loss - expectedLosses[step - 1]) <= LossTolerance * expectedLosses[step - 1],
                $"step {step}: loss {loss:R}, PyTorch {expectedLosses[step - 1]:R}");
            if (step == 1) AssertGradients(model, f.GetProperty("gradients"));
            optimizer.Apply(schedule.At(step));
        }
        Assert.True(expectedLosses[^1] < 0.9 * expectedLosses[0], "the fixture's run does not learn; it checks too little");
    }

    private static void AssertGradients(TrainableModel model, JsonElement gradients)
    {
        foreach (var linear in model.Trained)
        {
            var g = gradients.GetProperty(linear.Name);
            foreach (var (values, norm, head) in new[] { (linear.LTransposedGradient, "lt_norm", "lt_head"), (linear.RGradient, "r_norm", "r_head") })
            {
                double expected = g.GetProperty(norm).GetDouble();
                double actual = Math.Sqrt(values.Sum(v => (double)v * v));
                Assert.True(Math.Abs(actual - expected) <= GradientTolerance * expected, $"{linear.Name} {norm}: {actual:R}, PyTorch {expected:R}");
                int i = 0;
                foreach (var e in g.GetProperty(head).EnumerateArray())
                {
                    Assert.True(Math.Abs(values[i] - e.GetDouble()) <= GradientTolerance * expected, $"{linear.Name} {head}[{i}]: {values[i]:R}, PyTorch {e.GetDouble():R}");
                    i++;
                }
            }
        }
    }

    /// <summary>The script's initial factors: matrix k (layer-major, Caldera's order within a layer) gets sines and cosines of its indices.</summary>
    private static (float[] LTransposed, float[] R) Initial(string name, int rows, int columns, int rank)
    {
        var parts = name.Split('.');
        int k = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) * Slots.Length + Array.IndexOf(Slots, parts[2]);
        var lt = new float[rank * rows];
        var r = new float[rank * columns];
        for (int j = 0; j < rank; j++)
        {
            for (int i = 0; i < rows; i++) lt[j * rows + i] = (float)(0.05 * Math.Sin(0.7 * i + 1.3 * j + 0.1 * k));
            for (int e = 0; e < columns; e++) r[j * columns + e] = (float)(0.05 * Math.Cos(0.3 * e + 2.1 * j + 0.2 * k));
        }
        return (lt, r);
    }
}
