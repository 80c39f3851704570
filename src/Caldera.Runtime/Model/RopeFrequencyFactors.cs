namespace Caldera.Runtime.Model;

/// <summary>
/// Per-pair RoPE frequency divisors, as Llama 3.1+ GGUF files store them in <c>rope_freqs.weight</c>
/// (llama.cpp's converter writes the llama3 scaling rule this way): pair p turns by pos·ω_p / f_p.
/// Compared by value, so two configs with the same factors are equal.
/// </summary>
internal sealed class RopeFrequencyFactors : IEquatable<RopeFrequencyFactors>
{
    private readonly float[] _factors;

    public RopeFrequencyFactors(ReadOnlySpan<float> factors) => _factors = factors.ToArray();

    /// <summary>One factor per rotated pair (head width / 2).</summary>
    public ReadOnlySpan<float> Values => _factors;

    public int Count => _factors.Length;

    /// <summary>Why the factors cannot be used with a head of <paramref name="headDim"/>, or null when they can.</summary>
    public string? Problem(int headDim)
    {
        if (_factors.Length != headDim / 2) return $"has {_factors.Length} factors, expected one per rotated pair ({headDim / 2} for head width {headDim})";
        int bad = Array.FindIndex(_factors, f => !(f > 0 && float.IsFinite(f)));
        return bad < 0 ? null : $"factor {bad} is {_factors[bad]}; every factor must be a positive finite number";
    }

    public bool Equals(RopeFrequencyFactors? other) => other is not null && _factors.AsSpan().SequenceEqual(other._factors);

    public override bool Equals(object? obj) => Equals(obj as RopeFrequencyFactors);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (float f in _factors) hash.Add(f);
        return hash.ToHashCode();
    }
}
