using System.Runtime.Intrinsics;

namespace Caldera.Compiler.Quantizers;

/// <summary>
/// What one nearest-codeword search certifies about the inputs around the one it searched. A caller that re-rounds
/// slowly moving targets (BlockLDLQ's sweeps) keeps the certificate with the target it searched and skips the next
/// search while <see cref="Covers"/> holds: the search could not return anything else.
/// </summary>
/// <remarks>
/// <para>Let x be the input searched, c* the codeword returned and x' the moved input, δ = ‖x' − x‖. Two tests, each
/// sound in exact arithmetic:</para>
/// <para><b>Ball.</b> δ ≤ r = <see cref="Radius"/>.</para>
/// <para><b>Lead.</b> Every other codeword is at least s = <see cref="Separation"/> from x, so at least s − δ from x'.
/// c* is e = ‖x' − c*‖ from x', which the test computes. The search returns c* whenever c*'s exact squared lead
/// exceeds its own rounding allowance ν(x'), and over inputs at distance δ from x that allowance is at most
/// ν₀ + ν₁δ + ν₂δ² (<see cref="Allowance0"/>, <see cref="Allowance1"/>, <see cref="Allowance2"/>). So c* is
/// returned when s > δ and (s − δ)² − e² > ν₀ + ν₁δ + ν₂δ².</para>
/// <para>The ball assumes the worst direction, e = d₁ + δ (d₁ = ‖x − c*‖). A target that moves sideways or toward c*
/// has a smaller e and stays covered by the lead test up to about twice as far: in BlockLDLQ's sweeps at 4096² the
/// searches per Q-update fall from 13.4 M with the ball alone to 8.6 M.</para>
/// </remarks>
internal readonly record struct SearchCertificate(float Radius, float Separation, float Allowance0, float Allowance1, float Allowance2)
{
    private const int Dimension = 8;

    /// <summary>
    /// Rounding allowance of <see cref="Covers"/>' float arithmetic, relative. A computed squared distance (eight
    /// rounded differences and squares, one sum) is within 2⁻²⁰ of the exact one; each further step (a square root, a
    /// difference, a square, three products and sums of positive terms) adds 2⁻²⁴. Scaling every lower bound down and
    /// every upper bound up by 2⁻¹⁶ covers them all, so each test holds in exact arithmetic when it holds here.
    /// </summary>
    private const float Rounding = 1f / 65536;

    /// <summary>Nothing certified beyond the input itself: the search is deterministic, so an identical input is covered.</summary>
    public static SearchCertificate None => default;

    /// <summary>A certificate that covers nothing, not even the same input: for targets never searched.</summary>
    public static SearchCertificate Nothing => new(-1, 0, 0, 0, 0);

    /// <summary>Whether the search of <paramref name="moved"/> must return <paramref name="codeword"/>, which it returned for <paramref name="searched"/>.</summary>
    public bool Covers(ReadOnlySpan<float> moved, ReadOnlySpan<float> searched, ReadOnlySpan<float> codeword)
    {
        var x = Vector256.Create(moved[..Dimension]);
        var d = x - Vector256.Create(searched[..Dimension]);
        float deltaSquared = Vector256.Sum(d * d);
        if (Radius >= 0 && deltaSquared <= Radius * Radius * (1 - Rounding)) return true;

        float delta = MathF.Sqrt(deltaSquared * (1 + Rounding)), gap = Separation - delta;
        if (!(gap > 0)) return false;
        var e = x - Vector256.Create(codeword[..Dimension]);
        float lead = (gap * gap * (1 - Rounding)) - (Vector256.Sum(e * e) * (1 + Rounding));
        return lead > (Allowance0 + (Allowance1 * delta) + (Allowance2 * delta * delta)) * (1 + Rounding);
    }
}
