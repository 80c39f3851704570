namespace Caldera.Runtime.Sampling;

/// <summary>
/// PCG32 (XSH-RR, 64-bit state; O'Neill 2014): a small generator fully defined by its arithmetic, so one
/// seed gives the same stream on every machine, runtime and .NET version (unlike <see cref="Random"/>).
/// </summary>
internal struct Pcg32
{
    private const ulong Multiplier = 6364136223846793005UL;
    private const ulong Increment = 1442695040888963407UL; // any odd constant selects a stream

    private ulong _state;

    public Pcg32(ulong seed)
    {
        _state = 0;
        NextUInt32();
        _state += seed;
        NextUInt32();
    }

    public uint NextUInt32()
    {
        ulong old = _state;
        _state = old * Multiplier + Increment;
        uint xorShifted = (uint)(((old >> 18) ^ old) >> 27);
        int rotation = (int)(old >> 59);
        return (xorShifted >> rotation) | (xorShifted << (-rotation & 31));
    }

    /// <summary>Uniform in [0, 1) with 24 random bits (every value exactly representable as a float).</summary>
    public float NextSingle() => (NextUInt32() >> 8) * (1f / (1 << 24));
}
