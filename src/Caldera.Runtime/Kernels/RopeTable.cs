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
    /// <summary>Positions computed the first time any is asked for; the rows then double as later positions are asked for.</summary>
    private const int FirstPositions = 256;

    /// <summary>ω_p per pair.</summary>
    private readonly float[] _frequencies;
    private readonly Lock _growing = new();

    /// <summary>Rows [0, <see cref="_computed"/>) of the table: replaced by longer copies as positions are asked for.</summary>
    private float[] _cos = [], _signedSin = [];

    /// <summary>
    /// Positions computed so far, written after the arrays that hold them, so that a reader who sees a count also sees rows
    /// at least that long. The rows are filled as positions are first asked for rather than for the whole context at
    /// construction: a Llama 3 context of 131,072 positions is a 128 MiB table and 8 million sin/cos pairs, where a chat's
    /// first token needs a handful.
    /// </summary>
    private volatile int _computed;

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
        _frequencies = new float[headDim / 2];
        for (int p = 0; p < _frequencies.Length; p++) _frequencies[p] = Frequency(p, headDim, theta, scaling, factors);
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
    public ReadOnlySpan<float> Cos(int position)
    {
        int start = CheckedStart(position);
        return Volatile.Read(ref _cos).AsSpan(start, HeadDim);
    }

    /// <summary>±sin of every element's angle at <paramref name="position"/> (head width).</summary>
    public ReadOnlySpan<float> SignedSin(int position)
    {
        int start = CheckedStart(position);
        return Volatile.Read(ref _signedSin).AsSpan(start, HeadDim);
    }

    private int CheckedStart(int position)
    {
        if ((uint)position >= (uint)Positions)
            throw new ArgumentOutOfRangeException(nameof(position), $"position {position} is past the {Positions} positions the RoPE table covers");
        if (position >= _computed) Grow(position);
        return position * HeadDim;
    }

    /// <summary>Computes rows up to past <paramref name="position"/> (at least twice as many as before, at most <see cref="Positions"/>).</summary>
    private void Grow(int position)
    {
        lock (_growing)
        {
            int from = _computed;
            if (position < from) return;
            int to = (int)Math.Min(Positions, Math.Max(Math.Max(2L * from, FirstPositions), position + 1L));
            var cos = new float[(long)to * HeadDim];
            var signedSin = new float[cos.Length];
            _cos.CopyTo(cos, 0);
            _signedSin.CopyTo(signedSin, 0);
            int half = HeadDim / 2;
            for (int pos = from; pos < to; pos++)
            {
                var c = cos.AsSpan(pos * HeadDim, HeadDim);
                var s = signedSin.AsSpan(pos * HeadDim, HeadDim);
                for (int p = 0; p < half; p++)
                {
                    // Single precision throughout, as llama2.c and transformers compute the angle.
                    float angle = pos * _frequencies[p];
                    float cosine = MathF.Cos(angle), sine = MathF.Sin(angle);
                    (int first, int second) = Pairing == RopePairing.Interleaved ? (2 * p, 2 * p + 1) : (p, p + half);
                    c[first] = cosine; c[second] = cosine;
                    s[first] = -sine; s[second] = sine;
                }
            }
            Volatile.Write(ref _cos, cos);
            Volatile.Write(ref _signedSin, signedSin);
            _computed = to;
        }
    }
}
