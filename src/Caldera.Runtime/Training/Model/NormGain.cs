namespace Caldera.Runtime.Training.Model;

/// <summary>
/// One RMSNorm's gain g (y = g ⊙ ρ·x), frozen or trained. Trained, its gradient over a window is
///   dL/dg = Σ_t dy_t ⊙ (ρ_t·x_t),
/// summed over the tokens in order, one entry at a time, so it is the same bits at every thread count.
/// </summary>
internal sealed class NormGain
{
    public NormGain(string name, float[] values, bool trains)
    {
        Name = name;
        Values = values;
        Trains = trains;
        Gradient = trains ? new float[values.Length] : [];
    }

    /// <summary>The tensor's canonical name, e.g. "blk.0.attn_norm.weight".</summary>
    public string Name { get; }

    /// <summary>g, updated in place by the optimizer when it trains.</summary>
    public float[] Values { get; }

    public bool Trains { get; }

    /// <summary>Accumulated dL/dg (empty when frozen).</summary>
    public float[] Gradient { get; }

    /// <summary>
    /// Adds Σ_t dy_t ⊙ (ρ_t·x_t) over <paramref name="tokens"/> rows of x and dy (T × d) to the gradient, ρ·x rounded as
    /// the forward rounds it; nothing when frozen.
    /// </summary>
    public void Accumulate(ReadOnlySpan<float> x, ReadOnlySpan<float> rho, ReadOnlySpan<float> dy, int tokens)
    {
        if (!Trains) return;
        int d = Values.Length;
        var g = Gradient.AsSpan();
        for (int t = 0; t < tokens; t++)
        {
            var xt = x.Slice(t * d, d);
            var dyt = dy.Slice(t * d, d);
            float r = rho[t];
            for (int i = 0; i < d; i++) g[i] += dyt[i] * (r * xt[i]);
        }
    }

    public void ClearGradient() => Array.Clear(Gradient);
}
