namespace Caldera.Cli.Tests.Quality;

/// <summary>
/// The models the quality guards measure: each compressed once per test run by `caldera compress` at one fixed, fast
/// setting (fast preset, 32 calibration sequences of 128 tokens from <see cref="TinyStoriesSplit.Train"/>, two
/// threads), so that a guard takes seconds rather than the minutes of docs/quality.md's full tables. Deleted when the
/// test process exits.
/// </summary>
internal static class GuardModels
{
    private static readonly Lazy<string> Directory = new(() =>
    {
        string dir = System.IO.Directory.CreateTempSubdirectory("caldera-guard-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { System.IO.Directory.Delete(dir, recursive: true); }
            catch (IOException) { }
        };
        File.WriteAllText(Path.Combine(dir, "train.txt"), TinyStoriesSplit.Train);
        return dir;
    });

    private static readonly Lazy<string> TinyStories = new(() => Compress("tinystories-256d-r8.cald", TestModels.TinyStories256dGguf, [], rank: 8));
    private static readonly Lazy<string> Stories = new(() =>
        Compress("stories260K-r16.cald", TestModels.Stories260KBin, ["--tokenizer", TestModels.Tok512Model], rank: 16));

    /// <summary>tinystories-256d (dim 256, FFN 768: every int8 block is full) at rank 8, 4-bit factors.</summary>
    public static string TinyStories256dRank8 => TinyStories.Value;

    /// <summary>stories260K at rank 16, 4-bit factors.</summary>
    public static string Stories260KRank16 => Stories.Value;

    /// <summary>The guards' evaluation text: the held-out text's first 2,000 characters or so (4 chunks of 256 tokens, 508 scored).</summary>
    public static string HeldOutSlice
    {
        get
        {
            string path = Path.Combine(Directory.Value, "heldout.txt");
            lock (Directory)
                if (!File.Exists(path)) File.WriteAllText(path, TinyStoriesSplit.HeldOutSlice(2_000));
            return path;
        }
    }

    public const string CompressSetting = "--preset fast --samples 32 --seq-len 128";

    private static string Compress(string name, string checkpoint, string[] tokenizer, int rank)
    {
        string output = Path.Combine(Directory.Value, name);
        var log = new StringWriter();
        int code = CalderaCli.Run(
            ["compress", checkpoint, .. tokenizer, "-o", output, "--rank", rank.ToString(System.Globalization.CultureInfo.InvariantCulture),
             "--calibration", Path.Combine(Directory.Value, "train.txt"), .. CompressSetting.Split(' '), "--threads", "2"], log, log);
        if (code != 0) throw new InvalidOperationException($"compress {checkpoint} failed: {log}");
        return output;
    }
}
