namespace Caldera.Runtime.Incoherence;

/// <summary>
/// A small deterministic PRNG (xoshiro256**, state seeded by SplitMix64) so that random signs and fallback
/// orthogonal blocks depend on the seed alone, not on the runtime's System.Random implementation.
/// </summary>
/// <remarks>
/// Signs come from raw bits and are reproducible everywhere. Gaussians use Box–Muller, whose Math.Log and
/// Math.Cos may differ in the last bit between platforms, so a transform built from Gaussians must be stored
/// with the model rather than regenerated on another machine.
/// </remarks>
internal sealed class SeededRandom
{
    private ulong s0, s1, s2, s3;

    public SeededRandom(ulong seed)
    {
        ulong x = seed;
        s0 = SplitMix(ref x);
        s1 = SplitMix(ref x);
        s2 = SplitMix(ref x);
        s3 = SplitMix(ref x);
    }

    public ulong NextUInt64()
    {
        ulong result = RotateLeft(s1 * 5, 7) * 9;
        ulong t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = RotateLeft(s3, 45);
        return result;
    }

    /// <summary>A fair ±1 (the top bit, the best-mixed bit of xoshiro256**).</summary>
    public float NextSign() => (NextUInt64() >> 63) == 0 ? 1f : -1f;

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>A standard normal draw (Box–Muller; one of the pair is used).</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble(); // (0, 1]: the logarithm stays finite
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));
}
