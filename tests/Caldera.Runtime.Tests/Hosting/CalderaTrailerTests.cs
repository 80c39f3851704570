using System.IO.Hashing;
using System.Text;
using Caldera.Common;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Hosting;
using Caldera.Runtime.Tests.Formats;

namespace Caldera.Runtime.Tests.Hosting;

/// <summary>The executable trailer: models appended to a binary are found by name, mapped in place and verified; a corrupt trailer is a clear error.</summary>
public class CalderaTrailerTests
{
    /// <summary>An "executable" whose length is not a page multiple, so the padding is exercised.</summary>
    private static readonly byte[] Executable = Enumerable.Range(0, 5000).Select(i => (byte)(i * 7)).ToArray();

    [Fact]
    public void Appended_models_are_found_by_name_and_read_like_their_files()
    {
        using var dir = new TempDirectory();
        byte[] cald = CompressedStories.Bytes;
        string exe = dir.File("app");
        File.WriteAllBytes(exe, TrailerWriter.Append(Executable, ("Stories", cald), ("Other", cald)));

        var entries = CalderaTrailer.ReadDirectory(exe)!;
        Assert.Equal(["Stories", "Other"], entries.Select(e => e.Name));
        Assert.All(entries, e => Assert.Equal(0, e.Offset % TrailerLayout.Alignment));
        Assert.Equal(8192, entries[0].Offset);

        var entry = CalderaTrailer.Find(exe, "Other")!;
        using var fromTrailer = CaldFile.Open(MappedFile.Open(exe, entry.Offset, entry.Length, $"trailer entry Other of {exe}"));
        using var fromFile = CaldFile.Open(CompressedStories.Path);
        Assert.Equal(fromFile.Checksum, fromTrailer.Checksum);
        Assert.Equal(fromFile.Content.Config, fromTrailer.Content.Config);
        Assert.Equal(fromFile.Content.Matrices[3].QCodes.ToArray(), fromTrailer.Content.Matrices[3].QCodes.ToArray());
        Assert.Null(CalderaTrailer.Find(exe, "Missing"));
    }

    [Fact]
    public void A_file_without_a_trailer_has_no_directory()
    {
        using var dir = new TempDirectory();
        string exe = dir.File("app");
        File.WriteAllBytes(exe, Executable);
        Assert.Null(CalderaTrailer.ReadDirectory(exe));
        File.WriteAllBytes(exe, [1, 2, 3]);
        Assert.Null(CalderaTrailer.ReadDirectory(exe));
    }

    public static TheoryData<string, string> CorruptTrailers => new()
    {
        { "directory offset past the file", "does not end right before the footer" },
        { "huge directory length", "does not end right before the footer" },
        { "directory checksum", "checksum" },
        { "misaligned entry", "is not a page-aligned range" },
        { "entry into the directory", "is not a page-aligned range" },
        { "malformed line", "is not \"name<TAB>offset<TAB>length\"" },
        { "duplicate name", "appears twice" },
    };

    [Theory]
    [MemberData(nameof(CorruptTrailers))]
    public void A_corrupt_trailer_is_an_error_naming_the_executable(string corruption, string message)
    {
        using var dir = new TempDirectory();
        string exe = dir.File("app");
        byte[] cald = new byte[100];
        byte[] bytes = corruption switch
        {
            "directory offset past the file" => Footer(Executable, 1L << 40, 10, 0),
            "huge directory length" => Footer(Executable, 0, long.MaxValue, 0),
            "directory checksum" => Corrupt(TrailerWriter.Append(Executable, ("A", cald)), footerByte: 30),
            "misaligned entry" => WithDirectory($"A\t{4097}\t100\n"),
            "entry into the directory" => WithDirectory($"A\t{8192}\t100000\n"),
            "malformed line" => WithDirectory("A 8192 100\n"),
            "duplicate name" => WithDirectory("A\t8192\t100\nA\t12288\t100\n"),
            _ => throw new ArgumentException(corruption),
        };
        File.WriteAllBytes(exe, bytes);
        var e = Assert.Throws<ModelFormatException>(() => CalderaTrailer.ReadDirectory(exe));
        Assert.Equal(exe, e.FilePath);
        Assert.Contains("model trailer", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void A_corrupt_model_in_the_trailer_is_an_error_naming_the_entry()
    {
        using var dir = new TempDirectory();
        byte[] cald = CompressedStories.Bytes;
        cald[cald.Length / 2] ^= 0x40;
        string exe = dir.File("app");
        File.WriteAllBytes(exe, TrailerWriter.Append(Executable, ("Stories", cald)));
        var entry = CalderaTrailer.Find(exe, "Stories")!;
        var e = Assert.Throws<ModelFormatException>(() => CaldFile.Open(MappedFile.Open(exe, entry.Offset, entry.Length, $"trailer entry Stories of {exe}")));
        Assert.StartsWith($"trailer entry Stories of {exe}: checksum mismatch", e.Message);
    }

    /// <summary>The executable, zero padding to 16484, a directory of <paramref name="directory"/> and a valid footer.</summary>
    private static byte[] WithDirectory(string directory)
    {
        var file = new MemoryStream();
        file.Write(Executable);
        file.Write(new byte[16384 + 100 - Executable.Length]);
        byte[] bytes = Encoding.UTF8.GetBytes(directory);
        long offset = file.Length;
        file.Write(bytes);
        return TrailerWriter.WithFooter(file, offset, bytes.Length, XxHash3.HashToUInt64(bytes));
    }

    private static byte[] Footer(byte[] executable, long offset, long length, ulong checksum)
    {
        var file = new MemoryStream();
        file.Write(executable);
        return TrailerWriter.WithFooter(file, offset, length, checksum);
    }

    private static byte[] Corrupt(byte[] bytes, int footerByte)
    {
        bytes[bytes.Length - TrailerLayout.FooterLength + footerByte] ^= 1;
        return bytes;
    }
}
