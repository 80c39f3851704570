using Caldera.Cli;

namespace Caldera.Tests;

/// <summary>
/// stories260K compressed once per test run by `caldera compress` (rank 16, fast preset, a small calibration set:
/// about a second), shared by the hosting and describe tests. Deleted when the test process exits.
/// </summary>
internal static class CompressedStories
{
    private static readonly Lazy<string> Model = new(Compress);

    /// <summary>The .cald file; tests copy it before changing it.</summary>
    public static string Path => Model.Value;

    public static byte[] Bytes => File.ReadAllBytes(Path);

    private static string Compress()
    {
        string dir = Directory.CreateTempSubdirectory("caldera-hosting-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(dir, recursive: true); }
            catch (IOException) { }
        };
        string path = System.IO.Path.Combine(dir, "stories260K-r16.cald");
        var log = new StringWriter();
        int code = CalderaCli.Run(["compress", TestModels.Stories260KBin, "--tokenizer", TestModels.Tok512Model, "-o", path,
            "--rank", "16", "--preset", "fast", "--samples", "16", "--seq-len", "64", "--threads", "2"], log, log);
        if (code != 0) throw new InvalidOperationException($"compress failed: {log}");
        return path;
    }
}
