namespace Caldera.Runtime.Model;

/// <summary>
/// Llama 3.1-style RoPE frequency scaling (<c>rope_scaling.rope_type == "llama3"</c>): wavelengths longer
/// than <c>OriginalContextLength / LowFrequencyFactor</c> are divided by <c>Factor</c>, those shorter than
/// <c>OriginalContextLength / HighFrequencyFactor</c> are kept, and the band between is interpolated.
/// </summary>
internal sealed record RopeScaling(float Factor, float LowFrequencyFactor, float HighFrequencyFactor, int OriginalContextLength)
{
    /// <summary>Scales the inverse frequency <paramref name="frequency"/> (radians per position).</summary>
    public float Apply(float frequency)
    {
        double wavelength = 2 * Math.PI / frequency;
        double lowWavelength = OriginalContextLength / LowFrequencyFactor;
        double highWavelength = OriginalContextLength / HighFrequencyFactor;
        if (wavelength < highWavelength) return frequency;
        if (wavelength > lowWavelength) return frequency / Factor;
        double smooth = (OriginalContextLength / wavelength - LowFrequencyFactor) / (HighFrequencyFactor - LowFrequencyFactor);
        return (float)((1 - smooth) * frequency / Factor + smooth * frequency);
    }
}
