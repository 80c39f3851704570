using Caldera.Runtime.Training.Model;
using Caldera.Runtime.Training.Reference;

namespace Caldera.Runtime.Tests.Training;

/// <summary>The float64 reference backward against central finite differences of its own loss: factors and norm gains.</summary>
public class ReferenceGradientTests
{
    /// <summary>Step of the central difference: its truncation error is ~h²·|f‴| ≈ 1e-10, its rounding error ~1e-16/h ≈ 1e-11.</summary>
    private const double Step = 1e-5;

    /// <summary>Agreement asked for: far above both errors of the difference, far below any wrong term of the gradient.</summary>
    private const double Tolerance = 1e-6;

    /// <summary>The trainable ranks peeled: fewer than every matrix's rank, so frozen coded ranks stay in the forward pass.</summary>
    private const int Rank = 2;

    [Theory]
    [MemberData(nameof(Variants))]
    public void Reference_gradients_match_central_differences_for_every_trained_matrix(string variant)
    {
        var model = TrainableModel.Peel(TrainingModels.Variant(variant), Rank);
        var reference = new ReferenceModel(model);
        int[] inputs = TrainingModels.Window, targets = TrainingModels.Targets;
        reference.Gradients(inputs, targets);
        var random = new Random(11);
        int checkedEntries = 0;
        foreach (var linear in reference.Trained)
            foreach (var (values, gradient) in new[] { (linear.LTransposed, linear.LTransposedGradient), (linear.R, linear.RGradient) })
                for (int probe = 0; probe < 3; probe++)
                {
                    int i = random.Next(values.Length);
                    double difference = CentralDifference(values, i, () => reference.Loss(inputs, targets));
                    Assert.True(Math.Abs(difference - gradient[i]) <= Tolerance * Math.Max(1, Math.Abs(difference)),
                        $"{variant}: entry {i} of a rank-{linear.Rank} factor: finite difference {difference:R}, backward {gradient[i]:R}");
                    checkedEntries++;
                }
        Assert.True(checkedEntries >= 6 * 2 * 3 * 2, $"only {checkedEntries} entries checked");
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void Reference_gradients_match_central_differences_for_every_norm_gain(string variant)
    {
        var model = TrainableModel.Peel(TrainingModels.Variant(variant), Rank, trainNorms: true);
        var reference = new ReferenceModel(model);
        int[] inputs = TrainingModels.Window, targets = TrainingModels.Targets;
        reference.Gradients(inputs, targets);
        var random = new Random(13);
        int checkedEntries = 0;
        foreach (var gain in reference.Gains)
            for (int probe = 0; probe < 3; probe++)
            {
                int i = random.Next(gain.Values.Length);
                double difference = CentralDifference(gain.Values, i, () => reference.Loss(inputs, targets));
                Assert.True(difference != 0, $"{variant}: {gain.Name} entry {i} does not move the loss, so this probe checks nothing");
                Assert.True(Math.Abs(difference - gain.Gradient[i]) <= Tolerance * Math.Max(1, Math.Abs(difference)),
                    $"{variant}: {gain.Name} entry {i}: finite difference {difference:R}, backward {gain.Gradient[i]:R}");
                checkedEntries++;
            }
        // Two norms per layer and the final one.
        Assert.Equal((2 * model.Config.LayerCount + 1) * 3, checkedEntries);
    }

    [Fact]
    public void Distillation_gradients_match_central_differences()
    {
        var model = TrainableModel.Peel(TrainingModels.Variant("interleaved-untied-llama3"), Rank);
        var reference = new ReferenceModel(model);
        var random = new Random(5);
        var teacher = new float[TrainingModels.Window.Length * model.Config.VocabSize];
        for (int i = 0; i < teacher.Length; i++) teacher[i] = (float)(random.NextDouble() * 4 - 2);
        reference.Gradients(TrainingModels.Window, teacher);
        foreach (var linear in reference.Trained.Take(4))
        {
            int i = random.Next(linear.R.Length);
            double difference = CentralDifference(linear.R, i, () => reference.Loss(TrainingModels.Window, teacher));
            Assert.True(Math.Abs(difference - linear.RGradient[i]) <= Tolerance * Math.Max(1, Math.Abs(difference)),
                $"R entry {i}: finite difference {difference:R}, backward {linear.RGradient[i]:R}");
        }
        foreach (var gain in reference.Gains)
        {
            int i = random.Next(gain.Values.Length);
            double difference = CentralDifference(gain.Values, i, () => reference.Loss(TrainingModels.Window, teacher));
            Assert.True(Math.Abs(difference - gain.Gradient[i]) <= Tolerance * Math.Max(1, Math.Abs(difference)),
                $"{gain.Name} entry {i}: finite difference {difference:R}, backward {gain.Gradient[i]:R}");
        }
    }

    /// <summary>(L(v + h) − L(v − h)) / 2h for entry <paramref name="i"/> of <paramref name="values"/>, which is restored after.</summary>
    private static double CentralDifference(double[] values, int i, Func<double> loss)
    {
        double saved = values[i];
        values[i] = saved + Step;
        double plus = loss();
        values[i] = saved - Step;
        double minus = loss();
        values[i] = saved;
        return (plus - minus) / (2 * Step);
    }

    public static TheoryData<string> Variants => TrainingModels.Variants;
}
