using Caldera.Runtime.Training.Model;

namespace Caldera.Runtime.Training.Optimization;

/// <summary>
/// AdamW over every trained factor (L_tᵀ and R_t of each matrix) and trained RMSNorm gain, as PyTorch's
/// torch.optim.AdamW computes it for fp32 parameters: θ ← θ·(1 − η·λ), then θ ← θ − (η/(1 − β₁ᵗ))·m/(√v/√(1 − β₂ᵗ) + ε),
/// with m and v the running moments of the gradient. The gradient is first scaled so that its global L2 norm (factors and
/// gains together) is at most <see cref="ClipNorm"/>. Gains take no weight decay (λ = 0 for them): decay pulls a
/// parameter toward 0, and a gain's neutral value is 1, not 0 (the usual practice of excluding norm weights from decay).
/// The moments are part of a checkpoint, so a resumed run continues exactly.
/// </summary>
internal sealed class AdamW
{
    public const double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8;

    private readonly (float[] Values, float[] Gradient, bool Decays)[] _parameters;

    public AdamW(IReadOnlyList<TrainableLinear> trained, double weightDecay, double clipNorm, IReadOnlyList<NormGain>? gains = null)
    {
        _parameters =
        [
            .. trained.SelectMany(l => new[] { (l.LTransposed!.Values, l.LTransposedGradient, true), (l.R!.Values, l.RGradient, true) }),
            .. (gains ?? []).Select(g => (g.Values, g.Gradient, false)),
        ];
        WeightDecay = weightDecay;
        ClipNorm = clipNorm;
        Moments = _parameters.Select(p => (new float[p.Values.Length], new float[p.Values.Length])).ToArray();
    }

    public double WeightDecay { get; }

    /// <summary>The largest global gradient norm applied; larger gradients are scaled down to it.</summary>
    public double ClipNorm { get; }

    /// <summary>Steps taken (t).</summary>
    public int Step { get; set; }

    /// <summary>(m, v) per parameter array, in the order of <see cref="Parameters"/>.</summary>
    public (float[] M, float[] V)[] Moments { get; }

    /// <summary>Each trained parameter array with its gradient: L_tᵀ then R_t per matrix, then the trained gains.</summary>
    public IEnumerable<(float[] Values, float[] Gradient)> Parameters => _parameters.Select(p => (p.Values, p.Gradient));

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
        float stepSize = (float)(rate / correction1), root2 = (float)Math.Sqrt(correction2);
        int k = 0;
        foreach (var (values, gradient, decays) in _parameters)
        {
            float decay = decays ? (float)(1 - rate * WeightDecay) : 1f;
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
