namespace Caldera.Cli.Tests.Quality;

/// <summary>
/// The split of the models' README that docs/quality.md uses: ../shared/models/text/tinystories_val.txt cut at the first
/// blank line at or after 90 % of its bytes that a story starting "Once upon a time" follows. Calibration reads the
/// first part; evaluation only the second, which neither model trained or calibrated on.
/// </summary>
internal static class TinyStoriesSplit
{
    private static readonly Lazy<(string Train, string HeldOut)> Parts = new(() =>
    {
        string text = File.ReadAllText(TestModels.TinyStoriesText);
        int cut = text.IndexOf("\n\nOnce upon a time", (int)(text.Length * 0.9), StringComparison.Ordinal);
        return (text[..(cut + 2)], text[(cut + 2)..]);
    });

    public static string Train => Parts.Value.Train;

    public static string HeldOut => Parts.Value.HeldOut;

    /// <summary>The held-out text's first <paramref name="characters"/> characters or so, ending at a blank line between stories.</summary>
    public static string HeldOutSlice(int characters)
    {
        int end = HeldOut.IndexOf("\n\n", characters, StringComparison.Ordinal);
        if (end < 0) throw new InvalidOperationException($"the held-out text is shorter than {characters} characters");
        return HeldOut[..(end + 2)];
    }
}
