using System.Globalization;

namespace Caldera.Cli;

/// <summary>
/// One verb's command line: positional arguments and <c>--option value</c> pairs (flags take no value), each
/// option at most once; anything unknown, repeated or malformed is a <see cref="CliUsageException"/>.
/// </summary>
internal sealed class CommandLine
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);

    public CommandLine(string verb, string[] args, IReadOnlyCollection<string> options, IReadOnlyCollection<string>? flags = null)
    {
        Verb = verb;
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            if (!arg.StartsWith('-') || arg == "-")
            {
                Positional.Add(arg);
                continue;
            }
            if (flags != null && flags.Contains(arg))
            {
                if (!_flags.Add(arg)) throw new CliUsageException($"{verb}: {arg} is given twice");
                continue;
            }
            if (!options.Contains(arg)) throw new CliUsageException($"{verb}: unknown option {arg}");
            if (_values.ContainsKey(arg)) throw new CliUsageException($"{verb}: {arg} is given twice");
            if (i + 1 >= args.Length) throw new CliUsageException($"{verb}: {arg} needs a value");
            _values[arg] = args[++i];
        }
    }

    public string Verb { get; }
    public List<string> Positional { get; } = [];

    public bool Flag(string name) => _flags.Contains(name);

    public string? String(string name) => _values.GetValueOrDefault(name);

    public int? Int(string name, int min, int max = int.MaxValue)
    {
        if (String(name) is not { } value) return null;
        if (!int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int n))
            throw new CliUsageException($"{Verb}: {name} '{value}' is not an integer");
        if (n < min || n > max)
            throw new CliUsageException(max == int.MaxValue ? $"{Verb}: {name} {n} must be at least {min}" : $"{Verb}: {name} {n} must be in {min}..{max}");
        return n;
    }

    /// <summary>The value of <paramref name="name"/>, which must be one of <paramref name="choices"/>.</summary>
    public string Choice(string name, string fallback, params string[] choices)
    {
        string value = String(name) ?? fallback;
        if (!choices.Contains(value, StringComparer.Ordinal))
            throw new CliUsageException($"{Verb}: {name} '{value}' is not one of {string.Join(", ", choices)}");
        return value;
    }

    /// <summary>The one positional argument, named <paramref name="what"/> in errors.</summary>
    public string Single(string what)
    {
        if (Positional.Count == 0) throw new CliUsageException($"{Verb}: no {what} given");
        if (Positional.Count > 1) throw new CliUsageException($"{Verb}: unexpected argument '{Positional[1]}' (the {what} is already '{Positional[0]}')");
        return Positional[0];
    }
}
