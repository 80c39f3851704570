namespace Caldera.Runtime.Compression;

/// <summary>
/// The largest singular values of a matrix W as compressed, and of W − Q, what its quantised part leaves for
/// the low-rank factors (the paper's "decaying spectrum" figure), in descending order. The compiler computes
/// them once, at compression time, so that <c>caldera report</c> can plot them without the source checkpoint.
/// </summary>
internal sealed record MatrixSpectrum(float[] Weight, float[] Residual)
{
    /// <summary>How many singular values the compiler keeps per matrix (fewer for a smaller matrix).</summary>
    public const int TopCount = 32;

    /// <summary>What makes these values unusable for an m×n matrix, or null when they are sound.</summary>
    public string? FindProblem(int rows, int columns)
    {
        int most = Math.Min(TopCount, Math.Min(rows, columns));
        foreach (var (name, values) in new[] { ("weight", Weight), ("residual", Residual) })
        {
            if (values.Length == 0 || values.Length > most) return $"spectrum.{name} has {values.Length} values; expected 1..{most}";
            for (int i = 0; i < values.Length; i++)
                if (!(values[i] >= 0 && float.IsFinite(values[i])) || (i > 0 && values[i] > values[i - 1] * (1 + 1e-3f)))
                    return $"spectrum.{name}[{i}] = {values[i]} is not a finite, non-negative, descending singular value";
        }
        return null;
    }
}
