using Caldera.Runtime.Model;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// RoPE rotations precomputed for positions [0, <see cref="Positions"/>): pair p of a head turns by
/// pos·ω_p with ω_p = θ^(−2p/d) (d = head width), after llama3 <see cref="RopeScaling"/> or divided by the
/// per-pair <see cref="RopeFrequencyFactors"/> when the model has them. The table is laid out per element in the order of <see cref="Pairing"/>, so applying it is
/// q' = q ⊙ cos + partner(q) ⊙ sin± with partner(i) the other element of i's pair and sin± = −sin on the
/// first element of a pair, +sin on the second.
/// </summary>
internal sealed class RopeTable
{
    private readonly float[] _cos;
    private readonly float[] _signedSin;

    public RopeTable(int headDim, int positions, float theta, RopeScaling? scaling, RopePairing pairing, RopeFrequencyFactors? factors = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(headDim, 2);
        if (headDim % 2 != 0) throw new ArgumentException($"head width {headDim} is odd; RoPE rotates pairs", nameof(headDim));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(positions);
        long length = (long)positions * headDim;
        if (length > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(positions), $"{positions} positions × {headDim} is too large a RoPE table; use a shorter context");
        HeadDim = headDim;
        Positions = positions;
        Pairing = pairing;
        _cos = new float[length];
        _signedSin = new float[length];

        int half = headDim / 2;
        var frequencies = new float[half];
        for (int p = 0; p < half; p++) frequencies[p] = Frequency(p, headDim, theta, scaling, factors);
        for (int pos = 0; pos < positions; pos++)
        {
            var cos = _cos.AsSpan(pos * headDim, headDim);
            var sin = _signedSin.AsSpan(pos * headDim, headDim);
            for (int p = 0; p < half; p++)
            {
                // Single precision throughout, as llama2.c and transformers compute the angle.
                float angle = pos * frequencies[p];
                float c = MathF.Cos(angle), s = MathF.Sin(angle);
                (int first, int second) = pairing == RopePairing.Interleaved ? (2 * p, 2 * p + 1) : (p, p + half);
                cos[first] = c; cos[second] = c;
                sin[first] = -s; sin[second] = s;
            }
        }
    }

    /// <summary>A table for <paramref name="config"/>'s RoPE, covering <paramref name="positions"/> positions.</summary>
    public static RopeTable For(LlamaConfig config, int positions) =>
        new(config.HeadDim, positions, config.RopeTheta, config.RopeScaling, config.RopePairing, config.RopeFrequencyFactors);

    public int HeadDim { get; }
    public int Positions { get; }
    public RopePairing Pairing { get; }

    /// <summary>
    /// ω_p = θ^(−2p/d), then llama3-scaled when <paramref name="scaling"/> is set and divided by the pair's factor
    /// when <paramref name="factors"/> are (radians per position; llama.cpp's ggml_rope_ext divides the same way).
    /// </summary>
    public static float Frequency(int pair, int headDim, float theta, RopeScaling? scaling, RopeFrequencyFactors? factors = null)
    {
        float frequency = 1f / MathF.Pow(theta, 2 * pair / (float)headDim);
        if (scaling is not null) frequency = scaling.Apply(frequency);
        return factors is null ? frequency : frequency / factors.Values[pair];
    }

    /// <summary>cos of every element's angle at <paramref name="position"/> (head width).</summary>
    public ReadOnlySpan<float> Cos(int position) => _cos.AsSpan(CheckedStart(position), HeadDim);

    /// <summary>±sin of every element's angle at <paramref name="position"/> (head width).</summary>
    public ReadOnlySpan<float> SignedSin(int position) => _signedSin.AsSpan(CheckedStart(position), HeadDim);

    private int CheckedStart(int position)
    {
        if ((uint)position >= (uint)Positions)
            throw new ArgumentOutOfRangeException(nameof(position), $"position {position} is past the {Positions} positions the RoPE table covers");
        return position * HeadDim;
    }
}
