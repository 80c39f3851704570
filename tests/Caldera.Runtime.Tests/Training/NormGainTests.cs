using Caldera.Runtime.Formats;
using Caldera.Runtime.Training.Model;
using Caldera.Runtime.Training.Optimization;

namespace Caldera.Runtime.Tests.Training;

/// <summary>Trained RMSNorm gains in the optimizer: they move with their gradient and take no weight decay.</summary>
public class NormGainTests
{
    [Fact]
    public void AdamW_decays_the_factors_but_not_the_gains()
    {
        using var file = CaldFile.Open(CompressedStories.Path);
        var model = TrainableModel.Peel(file.Content, rank: 2, trainNorms: true);
        var gains = model.TrainedGains;
        var factor = model.Trained[0].R!.Values;
        var (gainBefore, factorBefore) = (gains[0].Values.ToArray(), factor.ToArray());
        // Zero gradients everywhere: only the decay can move a parameter.
        var optimizer = new AdamW(model.Trained, weightDecay: 0.5, clipNorm: 1.0, gains);
        optimizer.Apply(0.1);
        Assert.Equal(gainBefore, gains[0].Values);
        Assert.Equal(factorBefore.Select(v => v * (float)(1 - 0.1 * 0.5)), factor);
        Assert.Contains(factorBefore, v => v != 0);

        // A gradient moves a gain by the learning rate (Adam's first step is η·sign(g) per entry).
        gains[1].Gradient[3] = 2f;
        float before = gains[1].Values[3];
        new AdamW(model.Trained, weightDecay: 0.5, clipNorm: 1.0, gains).Apply(0.01);
        Assert.Equal(before - 0.01f, gains[1].Values[3], 1e-6f);
    }
}
