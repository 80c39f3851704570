namespace Caldera.Runtime.Hosting;

/// <summary>
/// Cuts streamed text at the first stop sequence: text is passed on as it arrives, except a tail that could still
/// grow into a stop sequence, which is held back until the next piece decides it. Stop sequences never reach the
/// output, even when they span pieces.
/// </summary>
internal sealed class StopSequenceFilter(IReadOnlyList<string>? stops)
{
    private readonly string[] _stops = stops?.Where(s => s.Length > 0).ToArray() ?? [];
    private string _held = string.Empty;

    /// <summary>Whether a stop sequence has been seen; nothing more is passed on after it.</summary>
    public bool Stopped { get; private set; }

    /// <summary>The text of <paramref name="piece"/> (and what was held back) that can be passed on now.</summary>
    public string Push(string piece)
    {
        if (Stopped) return string.Empty;
        if (_stops.Length == 0) return piece;
        string text = _held + piece;
        int cut = -1;
        foreach (string stop in _stops)
        {
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
        }
        if (cut >= 0)
        {
            Stopped = true;
            _held = string.Empty;
            return text[..cut];
        }
        int keep = LongestTailStartingAStop(text);
        _held = text[^keep..];
        return text[..^keep];
    }

    /// <summary>What is still held back, at the end of generation.</summary>
    public string Flush()
    {
        string rest = _held;
        _held = string.Empty;
        return rest;
    }

    private int LongestTailStartingAStop(string text)
    {
        int longest = 0;
        foreach (string stop in _stops)
            for (int n = Math.Min(stop.Length - 1, text.Length); n > longest; n--)
                if (text.AsSpan(text.Length - n).SequenceEqual(stop.AsSpan(0, n)))
                {
                    longest = n;
                    break;
                }
        return longest;
    }
}
