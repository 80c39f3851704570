using Caldera.Runtime.Training.Model;

namespace Caldera.Runtime.Training.Optimization;

/// <summary>
/// AdamW over every trained factor (L_tᵀ and R_t of each matrix), as PyTorch's torch.optim.AdamW computes it for fp32
/// parameters: θ ← θ·(1 − η·λ), then θ ← θ − (η/(1 − β₁ᵗ))·m/(√v/√(1 − β₂ᵗ) + ε), with m and v the running moments of
/// the gradient. The gradient is first scaled so that its global L2 norm is at most <see cref="ClipNorm"/>.
/// The moments are part of a checkpoint, so a resumed run continues exactly.
/// </summary>
internal sealed class AdamW
{
    public const double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8;

    private readonly IReadOnlyList<TrainableLinear> _trained;

    public AdamW(IReadOnlyList<TrainableLinear> trained, double weightDecay, double clipNorm)
    {
        _trained = trained;
        WeightDecay = weightDecay;
        ClipNorm = clipNorm;
        Moments = trained.SelectMany(l => new[] { l.LTransposedGradient.Length, l.RGradient.Length }).Select(n => (new float[n], new float[n])).ToArray();
    }

    public double WeightDecay { get; }

    /// <summary>The largest global gradient norm applied; larger gradients are scaled down to it.</summary>
    public double ClipNorm { get; }

    /// <summary>Steps taken (t).</summary>
    public int Step { get; set; }

    /// <summary>(m, v) per parameter array, in the order of <see cref="Parameters"/>.</summary>
    public (float[] M, float[] V)[] Moments { get; }

    /// <summary>Each trained factor with its gradient: L_tᵀ then R_t per matrix.</summary>
    public IEnumerable<(float[] Values, float[] Gradient)> Parameters =>
        _trained.SelectMany(l => new[] { (l.LTransposed!.Values, l.LTransposedGradient), (l.R!.Values, l.RGradient) });

    /// <summary>‖g‖₂ over every gradient, summed in a fixed order in double.</summary>
    public double GradientNorm()
    {
        double sum = 0;
        foreach (var (_, g) in Parameters)
            foreach (float x in g) sum += (double)x * x;
        return Math.Sqrt(sum);
    }

    /// <summary>Applies one step at learning rate <paramref name="rate"/> and returns the gradient norm before clipping.</summary>
    public double Apply(double rate)
    {
        double norm = GradientNorm();
        // torch.nn.utils.clip_grad_norm_'s coefficient: max/(‖g‖ + 1e-6), applied when below 1.
        double coefficient = ClipNorm / (norm + 1e-6);
        float clip = coefficient < 1 ? (float)coefficient : 1f;
        Step++;
        double correction1 = 1 - Math.Pow(Beta1, Step), correction2 = 1 - Math.Pow(Beta2, Step);
        float decay = (float)(1 - rate * WeightDecay), stepSize = (float)(rate / correction1), root2 = (float)Math.Sqrt(correction2);
        int k = 0;
        foreach (var (values, gradient) in Parameters)
        {
            var (m, v) = Moments[k++];
            for (int i = 0; i < values.Length; i++)
            {
                float g = gradient[i] * clip;
                m[i] = (float)Beta1 * m[i] + (float)(1 - Beta1) * g;
                v[i] = (float)Beta2 * v[i] + (float)(1 - Beta2) * g * g;
                values[i] = values[i] * decay - stepSize * m[i] / (MathF.Sqrt(v[i]) / root2 + (float)Epsilon);
            }
        }
        return norm;
    }
}
