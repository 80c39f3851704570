using System.Globalization;

namespace Caldera.Common;

/// <summary>
/// A memory size as users write it: bytes, or a number with a binary suffix K, M, G or T (optionally followed by B
/// or iB: 8G, 8GB and 8GiB are all 8·2³⁰ bytes; 1.5G is allowed). Shared by <c>caldera compress --max-memory</c> and
/// the <c>MaxMemory</c> metadata of <c>&lt;CalderaModel&gt;</c>, so both accept the same text.
/// </summary>
internal static class MemorySize
{
    /// <summary>The accepted forms, for error messages.</summary>
    public const string Forms = "a byte count or a number with K, M, G or T (binary units), e.g. 8G or 512M";

    public static bool TryParse(string text, out long bytes)
    {
        bytes = 0;
        string s = text.Trim();
        if (s.EndsWith("iB", StringComparison.OrdinalIgnoreCase)) s = s[..^2];
        else if (s.Length > 1 && (s[^1] is 'B' or 'b') && char.IsLetter(s[^2])) s = s[..^1];
        int shift = s.Length == 0 ? 0 : char.ToUpperInvariant(s[^1]) switch { 'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, _ => 0 };
        if (shift > 0) s = s[..^1];
        if (!double.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value)) return false;
        double result = Math.Floor(value * Math.Pow(2, shift));
        if (!(result >= 1) || result > long.MaxValue / 2) return false;
        bytes = (long)result;
        return true;
    }

    /// <summary>"7.6 GiB", "512 MiB": how messages show a size.</summary>
    public static string Format(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):F1} GiB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):F0} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} bytes"),
    };
}
