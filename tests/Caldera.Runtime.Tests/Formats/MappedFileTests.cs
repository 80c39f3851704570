using Caldera.Runtime.Formats;
using Caldera.Tests;

namespace Caldera.Runtime.Tests.Formats;

/// <summary>
/// <see cref="MappedFile.ReleaseResidentPages"/>: the pages a compression has read leave the process's resident set
/// (what <c>/usr/bin/time</c>'s maximum resident set size counts) and the bytes stay readable.
/// </summary>
public class MappedFileTests
{
    /// <summary>
    /// 64 MiB read through the map; releasing must take at least 48 MiB of file-backed pages out of the resident set. The
    /// runtime maps and touches other files (assemblies) meanwhile, a few MiB, which the margin leaves room for.
    /// </summary>
    private const int FileBytes = 64 << 20;
    private const long MinimumReleased = 48L << 20;

    [Fact]
    public unsafe void Released_pages_leave_the_resident_set_and_read_back_the_same()
    {
        using var dir = new TempDirectory();
        string path = dir.File("weights.bin");
        var bytes = new byte[FileBytes];
        new Random(5).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);

        // A window that starts off a page boundary, as a model in an executable's trailer does.
        using var file = MappedFile.Open(path, 1000, FileBytes - 1000, "weights.bin");
        long sum = Touch(file);
        long touched = ResidentFileBytes();
        file.ReleaseResidentPages();
        long released = ResidentFileBytes();

        if (OperatingSystem.IsLinux())
            Assert.True(touched - released >= MinimumReleased, $"file-backed resident bytes went from {touched} to {released}");
        Assert.Equal(sum, Touch(file));
        Assert.True(file.Span(0, 16, "head").SequenceEqual(bytes.AsSpan(1000, 16)));
    }

    private static unsafe long Touch(MappedFile file)
    {
        long sum = 0;
        byte* start = file.At(0, file.Length, "all");
        for (long i = 0; i < file.Length; i += 4096) sum += start[i];
        return sum;
    }

    /// <summary>RssFile from /proc/self/status, in bytes (0 where there is no /proc).</summary>
    private static long ResidentFileBytes()
    {
        if (!File.Exists("/proc/self/status")) return 0;
        foreach (string line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("RssFile:", StringComparison.Ordinal))
                return long.Parse(line["RssFile:".Length..^"kB".Length].Trim()) * 1024;
        return 0;
    }
}
