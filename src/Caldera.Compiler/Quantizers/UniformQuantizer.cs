namespace Caldera.Compiler.Quantizers;

/// <summary>
/// Symmetric uniform b-bit quantizer (round-to-nearest baseline): levels k ∈ [−L, L] with L = 2^(b−1) − 1,
/// step Δ = max|x| / L, q = Δ·round(x/Δ). At 4 bits that is 15 levels. Rounding is to nearest, ties to even
/// (torch.round).
/// </summary>
/// <remarks>
/// A code stores k + L, an unsigned value below 2^b, in a 16-bit word. The step is computed once by the
/// caller (for L and R the whole matrix shares one), so a value on the grid, x = k·Δ, quantizes exactly.
/// </remarks>
internal sealed class UniformQuantizer
{
    public const int MinBits = 2;
    public const int MaxBits = 16;

    public UniformQuantizer(int bits)
    {
        if (bits is < MinBits or > MaxBits)
            throw new ArgumentOutOfRangeException(nameof(bits), bits, $"uniform quantizer bits must be in [{MinBits}, {MaxBits}].");
        Bits = bits;
        MaxLevel = (1 << (bits - 1)) - 1;
    }

    public int Bits { get; }

    /// <summary>L = 2^(b−1) − 1, the largest level magnitude.</summary>
    public int MaxLevel { get; }

    /// <summary>Δ = max|x| / L (0 for an all-zero input). Throws if <paramref name="x"/> holds NaN/Inf.</summary>
    public float StepFor(ReadOnlySpan<float> x)
    {
        float absMax = 0;
        for (int i = 0; i < x.Length; i++)
        {
            if (!float.IsFinite(x[i]))
                throw new ArgumentException($"x[{i}] is {x[i]}; uniform quantization needs finite values.", nameof(x));
            absMax = MathF.Max(absMax, MathF.Abs(x[i]));
        }
        return absMax / MaxLevel;
    }

    /// <summary>Rounds <paramref name="x"/> to the grid of <paramref name="step"/>: writes Δ·k to q and k + L to codes.</summary>
    public void Quantize(ReadOnlySpan<float> x, float step, Span<float> q, Span<ushort> codes)
    {
        if (!(step >= 0) || !float.IsFinite(step)) throw new ArgumentOutOfRangeException(nameof(step), step, "the step must be finite and ≥ 0.");
        if (q.Length != x.Length || codes.Length < x.Length)
            throw new ArgumentException($"q ({q.Length}) must match x ({x.Length}) and codes ({codes.Length}) must hold as many.", nameof(q));
        for (int i = 0; i < x.Length; i++)
        {
            int level = step > 0 ? (int)Math.Clamp(MathF.Round(x[i] / step, MidpointRounding.ToEven), -MaxLevel, MaxLevel) : 0;
            codes[i] = (ushort)(level + MaxLevel);
            q[i] = level * step;
        }
    }

    /// <summary>y = Δ·(code − L).</summary>
    public void Dequantize(ReadOnlySpan<ushort> codes, float step, Span<float> y)
    {
        if (codes.Length < y.Length) throw new ArgumentException($"codes ({codes.Length}) must hold y's {y.Length} entries.", nameof(codes));
        for (int i = 0; i < y.Length; i++)
        {
            if (codes[i] > 2 * MaxLevel) throw new ArgumentException($"code {codes[i]} at {i} is above {2 * MaxLevel}, the largest {Bits}-bit level.", nameof(codes));
            y[i] = (codes[i] - MaxLevel) * step;
        }
    }
}
