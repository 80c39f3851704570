using System.Runtime.Intrinsics;

namespace Caldera.Compiler.Quantizers;

/// <summary>
/// The <see cref="SearchCertificate"/> of an E8P search: a radius r around the input x within which
/// <see cref="E8PNearest"/>'s fp32 search cannot change its answer (every x' with ‖x' − x‖₂ ≤ r, exact arithmetic,
/// rounds to the same code as x), and the separation d₂ and allowance ν⁺ of the finer lead test.
/// </summary>
/// <remarks>
/// <para><b>Triangle inequality.</b> Let c* be the winner at x, d₁ ≥ ‖x − c*‖ and d₂ ≤ ‖x − c‖ for every other
/// codeword c. For ‖x' − x‖ = δ: ‖x' − c*‖ ≤ d₁ + δ and ‖x' − c‖ ≥ d₂ − δ, so the squared lead of c* at x' is at least
/// (d₂ − δ)² − (d₁ + δ)² = (d₂ − d₁ − 2δ)(d₁ + d₂). The search's own fp32 costs pick c* whenever the exact squared
/// lead exceeds ν = <see cref="E8PClassSearch.CertifiedMargin"/>·M(x'), six times the costs' rounding (that is the
/// class search's certificate; the brute force rounds less), hence
///   r = (d₂ − d₁)/2 − ν⁺/(d₁ + d₂),   ν⁺ ≥ ν for every x' in the ball.</para>
/// <para><b>d₁, d₂ from the class search.</b> Its fp32 costs are within τ = CertifiedMargin·M(x)/6 of the exact squared
/// distances; τ is taken as CertifiedMargin·M, so d₁² = Best + τ. Every other codeword is either another (shift,
/// pattern) candidate, costing at least RunnerUp, or c*'s own pattern and shift with other signs. Those keep the
/// parity of the number of negatives: with t_i = |x_i − σ|·2p_i, flipping coordinate i costs 2t_i, so if c* needed no
/// parity flip the nearest sign variant flips two coordinates (+2(t₁ + t₂), the two smallest t), and if c* flipped the
/// cheapest coordinate the nearest variant flips the second-cheapest instead (+2(t₂ − t₁)). So
/// d₂² = min(RunnerUp, Best + that sign gap) − 2τ.</para>
/// <para><b>M at x'.</b> M = 24 + Σ_σ (10·‖z_σ‖₁ + ‖z_σ‖²), z_σ = x − σ𝟙; over the ball ‖z_σ‖₁ grows by at most √8·δ and
/// ‖z_σ‖² by at most 2‖z_σ‖δ + δ², with ‖z_σ‖ ≤ ‖x‖ + √8/4 and δ ≤ r₀ = (d₂ − d₁)/2, which gives ν⁺.</para>
/// <para><b>The lead test</b> keeps δ free: ν(x') ≤ CertifiedMargin·(M + 2(10√8 + 2‖z‖)δ + 2δ²), and the separation is
/// d₂ itself. Its inputs are lowered (d₂) or raised (ν's terms) by this computation's own rounding.</para>
/// </remarks>
internal static class E8PSearchCertificate
{
    private const int Dimension = E8PCodebook.Dimension;
    private static readonly float RootEight = MathF.Sqrt(8);

    /// <summary>
    /// Allowance for the fp32 rounding of this computation itself, per unit of d₁ + d₂ + 1: a dozen operations of
    /// relative error 2⁻²⁴ on quantities no larger than that.
    /// </summary>
    private const float OwnRounding = 1f / (1 << 20);

    /// <summary>
    /// The certificate of <paramref name="x8"/>'s search (certified, with <paramref name="margin"/>), which returned
    /// <paramref name="codeword"/> at shift index <paramref name="shift"/>: the radius (0 when nothing can be certified)
    /// and the lead test's separation and allowances (<see cref="SearchCertificate"/>).
    /// </summary>
    public static SearchCertificate Of(ReadOnlySpan<float> x8, ReadOnlySpan<float> codeword, int shift, E8PSearchMargin margin)
    {
        var x = Vector256.Create(x8[..Dimension]);
        float tau = E8PClassSearch.CertifiedMargin * margin.Magnitude;
        float d1Squared = margin.Best + tau;
        float d2Squared = MathF.Min(margin.RunnerUp, margin.Best + SignGap(x, Vector256.Create(codeword[..Dimension]), shift)) - (tau + tau);
        if (!float.IsFinite(d2Squared) || !(d2Squared > 0)) return SearchCertificate.None;

        float z = MathF.Sqrt(Vector256.Dot(x, x)) + (RootEight / 4);
        // The lead test, in double: d₂ lowered by this computation's own rounding, ν's terms raised by it.
        double own = OwnRounding, cm = E8PClassSearch.CertifiedMargin;
        double separation = Math.Sqrt(Math.Max(d2Squared - (own * (d2Squared + (4 * tau) + 1)), 0)) * (1 - own);
        double zUpper = z * (1 + own);
        var lead = new SearchCertificate(0, (float)separation,
            (float)(cm * margin.Magnitude * (1 + own)),
            (float)(2 * cm * ((10 * RootEight) + (2 * zUpper)) * (1 + own)),
            (float)(2 * cm * (1 + own)));
        if (!(d2Squared > d1Squared)) return lead;

        float d1 = MathF.Sqrt(MathF.Max(d1Squared, 0)), d2 = MathF.Sqrt(d2Squared), r0 = (d2 - d1) / 2;
        float magnitude = margin.Magnitude + 2 * ((10 * RootEight * r0) + (2 * z * r0) + (r0 * r0));
        float r = r0 - (E8PClassSearch.CertifiedMargin * magnitude / (d1 + d2)) - (OwnRounding * (d1 + d2 + 1));
        return lead with { Radius = r > 0 ? r : 0 };
    }

    /// <summary>The extra squared distance of the nearest codeword that shares c*'s pattern and shift but not its signs.</summary>
    internal static float SignGap(Vector256<float> x, Vector256<float> codeword, int shift)
    {
        var (t, flipped) = FlipCosts(x, codeword, shift);
        // The two smallest tᵢ, counted with multiplicity, by lane-wise minima (exact, so the same as the scalar loop).
        var t1 = E8PNearest.BroadcastMin(t);
        uint atMinimum = Vector256.Equals(t, t1).ExtractMostSignificantBits();
        var t2 = System.Numerics.BitOperations.PopCount(atMinimum) > 1
            ? t1
            : E8PNearest.BroadcastMin(Vector256.ConditionalSelect(Vector256.Equals(t, t1), Vector256.Create(float.PositiveInfinity), t));
        float first = t1.ToScalar(), second = t2.ToScalar();
        return flipped ? 2 * (second - first) : 2 * (first + second);
    }

    /// <summary>The reference of <see cref="SignGap"/>: the two smallest tᵢ one coordinate at a time.</summary>
    internal static float SignGapScalar(Vector256<float> x, Vector256<float> codeword, int shift)
    {
        var (t, flipped) = FlipCosts(x, codeword, shift);
        float t1 = float.PositiveInfinity, t2 = float.PositiveInfinity;
        for (int i = 0; i < Dimension; i++)
        {
            float ti = t.GetElement(i);
            t2 = MathF.Min(t2, MathF.Max(t1, ti));
            t1 = MathF.Min(t1, ti);
        }
        return flipped ? 2 * (t2 - t1) : 2 * (t1 + t2);
    }

    /// <summary>tᵢ = |zᵢ|·2pᵢ, the cost of flipping coordinate i, and whether c* carries a parity flip.</summary>
    private static (Vector256<float> T, bool Flipped) FlipCosts(Vector256<float> x, Vector256<float> codeword, int shift)
    {
        var sigma = Vector256.Create(E8PCodebook.ShiftValue(shift));
        Vector256<float> z = x - sigma, c = codeword - sigma;
        // |c − σ| is the pattern value p_i exactly; t_i = |z_i|·2p_i.
        Vector256<float> t = Vector256.Abs(z) * (Vector256.Abs(c) + Vector256.Abs(c));
        // The search gives coordinate i the sign of z (positive at z = +0; c − σ is never 0): a differing sign is the
        // parity flip.
        bool flipped = (z.AsInt32() ^ c.AsInt32()).ExtractMostSignificantBits() != 0;
        return (t, flipped);
    }
}
