using Caldera.Build.Tasks;
using Caldera.Build.Tasks.Trailer;
using Caldera.Common;

namespace Caldera.Build.Tests;

/// <summary>
/// The executable trailer, read back with the runtime's parser and checked byte by byte (alignment, zero padding,
/// each model's bytes) on a copy of the real `caldera` app host, which must still run afterwards.
/// </summary>
/// <remarks>
/// In the package feed's collection: the feed's `dotnet pack src/Caldera.Cli` rebuilds the very folder this test copies
/// the app host from, and a collection's fixture finishes before its tests run, one at a time.
/// </remarks>
[Collection(PackageFeedCollection.Name)]
public sealed class TrailerWriterTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "caldera-trailer-" + Guid.NewGuid().ToString("N")[..12]);

    public TrailerWriterTests()
    {
        Directory.CreateDirectory(_directory);
        foreach (string file in Directory.EnumerateFiles(TestPaths.CliOutput))
            File.Copy(file, Path.Combine(_directory, Path.GetFileName(file)));
    }

    private string Executable => Path.Combine(_directory, OperatingSystem.IsWindows() ? "caldera.exe" : "caldera");

    [Fact]
    public void Two_models_layout_matches_the_contract_and_the_executable_still_runs()
    {
        byte[] original = File.ReadAllBytes(Executable);
        var models = new[] { Model("Stories", 5003, seed: 1), Model("Chat", 12_345, seed: 2) };

        TrailerWriter.Append(Executable, models);

        byte[] file = File.ReadAllBytes(Executable);
        Assert.Equal(original, file[..original.Length]);
        var entries = ReadTrailer(file);
        Assert.Equal(["Stories", "Chat"], entries.Select(e => e.Name));
        long previousEnd = original.Length;
        foreach (var (entry, (_, path)) in entries.Zip(models))
        {
            Assert.Equal(0, entry.Offset % TrailerLayout.Alignment);
            Assert.True(entry.Offset - previousEnd < TrailerLayout.Alignment, "padding is less than a page");
            Assert.All(file[(int)previousEnd..(int)entry.Offset], b => Assert.Equal(0, b));
            Assert.Equal(File.ReadAllBytes(path), file[(int)entry.Offset..(int)(entry.Offset + entry.Length)]);
            previousEnd = entry.Offset + entry.Length;
        }

        var version = DotNet.Exec(Executable, _directory, "--version");
        Assert.True(version.ExitCode == 0, version.ToString());
        Assert.Matches(@"^\d+\.\d+\.\d+", version.Output);
    }

    [Fact]
    public void Appending_again_gives_the_same_bytes_and_a_new_set_replaces_the_old()
    {
        byte[] original = File.ReadAllBytes(Executable);
        var models = new[] { Model("Stories", 9000, seed: 3), Model("Chat", 4096, seed: 4) };
        TrailerWriter.Append(Executable, models);
        byte[] first = File.ReadAllBytes(Executable);

        TrailerWriter.Append(Executable, models);
        Assert.Equal(first, File.ReadAllBytes(Executable));

        var replacement = new[] { Model("Small", 10, seed: 5) };
        TrailerWriter.Append(Executable, replacement);
        byte[] replaced = File.ReadAllBytes(Executable);
        Assert.Equal(original, replaced[..original.Length]);
        var entry = Assert.Single(ReadTrailer(replaced));
        Assert.Equal(("Small", 10L), (entry.Name, entry.Length));
        Assert.Equal(first.AsSpan(0, (int)entry.Offset).ToArray(), replaced[..(int)entry.Offset]);
        if (!OperatingSystem.IsWindows())
            Assert.True(File.GetUnixFileMode(Executable).HasFlag(UnixFileMode.UserExecute), "the executable keeps its mode");
    }

    [Fact]
    public void Damaged_trailer_is_reported_with_CALD1041_and_the_file_is_left_alone()
    {
        TrailerWriter.Append(Executable, [Model("Stories", 777, seed: 6)]);
        byte[] file = File.ReadAllBytes(Executable);
        long directoryOffset = TrailerLayout.Read(new MemoryStream(file))!.Offset;
        file[directoryOffset] ^= 0x20;
        File.WriteAllBytes(Executable, file);

        var failure = Assert.Throws<BuildFailure>(() => TrailerWriter.Append(Executable, [Model("Stories", 777, seed: 6)]));

        Assert.Equal(BuildDiagnostic.TrailerCorrupt, failure.Diagnostic.Code);
        Assert.Contains("the directory's checksum is", failure.Message);
        Assert.Contains("publish again", failure.Message);
        Assert.Equal(file, File.ReadAllBytes(Executable));
    }

    [Fact]
    public void Missing_executable_is_reported_with_CALD1040()
    {
        var failure = Assert.Throws<BuildFailure>(() => TrailerWriter.Append(Path.Combine(_directory, "absent"), [Model("Stories", 10, seed: 7)]));
        Assert.Equal(BuildDiagnostic.TrailerExecutableMissing, failure.Diagnostic.Code);
        Assert.Contains("Storage=\"resource\"", failure.Message);
    }

    private (string Name, string Path) Model(string name, int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        string path = Path.Combine(_directory, name + ".cald");
        File.WriteAllBytes(path, bytes);
        return (name, path);
    }

    /// <summary>The trailer's entries, read by the <see cref="TrailerLayout"/> the runtime reads with (footer, checksum, every entry's range).</summary>
    private static IReadOnlyList<TrailerEntry> ReadTrailer(byte[] file)
    {
        var directory = TrailerLayout.Read(new MemoryStream(file));
        Assert.NotNull(directory);
        return directory.Entries;
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
