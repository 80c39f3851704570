using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Caldera.Cli;

/// <summary>
/// Options whose values are checked while the command line is parsed, with messages that name the option, the
/// value and the accepted range ("--rank -1 must be at least 0"); System.CommandLine prints each option's
/// description and default in <c>--help</c>.
/// </summary>
internal static class CliOptions
{
    public static Option<int> Int(string name, string description, int fallback, int min, int max = int.MaxValue, string? helpName = null) => new(name)
    {
        Description = description,
        HelpName = helpName ?? "N",
        DefaultValueFactory = _ => fallback,
        CustomParser = r => r.Tokens.Count == 0 ? fallback : ParseInt(r, name, r.Tokens[0].Value, min, max),
    };

    /// <summary>An integer option without a default: null when not given.</summary>
    public static Option<int?> OptionalInt(string name, string description, int min) => new(name)
    {
        Description = description,
        HelpName = "N",
        CustomParser = r => r.Tokens.Count == 0 ? null : ParseInt(r, name, r.Tokens[0].Value, min, int.MaxValue),
    };

    public static Option<float> Float(string name, string description, float fallback, Func<float, string?> check) => new(name)
    {
        Description = description,
        HelpName = "X",
        DefaultValueFactory = _ => fallback,
        CustomParser = r =>
        {
            if (r.Tokens.Count == 0) return fallback;
            string value = r.Tokens[0].Value;
            if (!float.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out float f) || !float.IsFinite(f))
            {
                r.AddError($"{name} '{value}' is not a number");
                return fallback;
            }
            if (check(f) is { } problem) r.AddError($"{name} {value} {problem}");
            return f;
        },
    };

    /// <summary>A memory size (<see cref="Caldera.Common.MemorySize"/>: 8G, 512M, a byte count); null when not given.</summary>
    public static Option<long?> Size(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "SIZE",
        CustomParser = r =>
        {
            if (r.Tokens.Count == 0) return null;
            string value = r.Tokens[0].Value;
            if (Caldera.Common.MemorySize.TryParse(value, out long bytes)) return bytes;
            r.AddError($"{name} '{value}' is not a memory size: use {Caldera.Common.MemorySize.Forms}");
            return null;
        },
    };

    /// <summary>A string option limited to <paramref name="choices"/>; the first is the default.</summary>
    public static Option<string> Choice(string name, string description, params string[] choices) => new(name)
    {
        Description = description,
        HelpName = string.Join('|', choices),
        DefaultValueFactory = _ => choices[0],
        CustomParser = r =>
        {
            if (r.Tokens.Count == 0) return choices[0];
            string value = r.Tokens[0].Value;
            if (!choices.Contains(value, StringComparer.Ordinal)) r.AddError($"{name} '{value}' is not one of {string.Join(", ", choices)}");
            return value;
        },
    };

    /// <summary>A string option (a file, a name, a prompt) without a default: null when not given.</summary>
    public static Option<string?> Text(string name, string description, string helpName = "file", params string[] aliases) => new(name, aliases)
    {
        Description = description,
        HelpName = helpName,
    };

    public static Option<bool> Flag(string name, string description) => new(name) { Description = description };

    public static Argument<string> Model(string description) => new("model") { Description = description };

    private static int ParseInt(ArgumentResult r, string name, string value, int min, int max)
    {
        if (!int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int n))
        {
            r.AddError($"{name} '{value}' is not an integer");
            return min;
        }
        if (n < min || n > max)
            r.AddError(max == int.MaxValue ? $"{name} {n} must be at least {min}" : $"{name} {n} must be in {min}..{max}");
        return n;
    }
}
