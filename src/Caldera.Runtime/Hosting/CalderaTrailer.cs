using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using System.Text;
using Caldera.Runtime.Formats;

namespace Caldera.Runtime.Hosting;

/// <summary>
/// Reads the models appended to a published executable (docs/format.md, "Executable trailer"):
/// <code>
/// [executable][zero pad to 4096][model₁ .cald][zero pad to 4096][model₂ .cald]…[directory][footer]
/// directory: UTF-8 lines "name\toffset\tlength\n", offsets absolute from the start of the file
/// footer (last 32 bytes): "CALDTRL1" | int64 directory offset | int64 directory length | uint64 XxHash3(directory)
/// </code>
/// Every number is checked in 64-bit arithmetic against the file before anything is allocated or mapped; the
/// directory must hash to the footer's checksum. Each <c>.cald</c> then verifies its own bytes when opened.
/// (The writer lives in the build task, which must not depend on the runtime.)
/// </summary>
internal static class CalderaTrailer
{
    public const int FooterSize = 32;

    /// <summary>Models start on page boundaries so that each one can be mapped on its own.</summary>
    public const int Alignment = 4096;

    /// <summary>Far above any real directory (a line per model); keeps a forged footer from allocating gigabytes.</summary>
    public const int MaxDirectoryBytes = 1 << 20;

    public static ReadOnlySpan<byte> Magic => "CALDTRL1"u8;

    /// <summary>The directory of <paramref name="path"/>'s trailer, or null when the file does not end in one.</summary>
    public static IReadOnlyList<TrailerEntry>? ReadDirectory(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            return ReadDirectory(stream, path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(path, $"cannot read the executable to look for its model trailer ({e.Message})", e);
        }
    }

    /// <summary>The named entry of <paramref name="path"/>'s trailer, or null when there is no trailer or no such entry.</summary>
    public static TrailerEntry? Find(string path, string name) =>
        ReadDirectory(path)?.FirstOrDefault(e => string.Equals(e.Name, name, StringComparison.Ordinal));

    internal static IReadOnlyList<TrailerEntry>? ReadDirectory(Stream stream, string path)
    {
        long fileLength = stream.Length;
        if (fileLength < FooterSize) return null;
        Span<byte> footer = stackalloc byte[FooterSize];
        stream.Position = fileLength - FooterSize;
        stream.ReadExactly(footer);
        if (!footer[..Magic.Length].SequenceEqual(Magic)) return null;

        long offset = BinaryPrimitives.ReadInt64LittleEndian(footer[8..]);
        long length = BinaryPrimitives.ReadInt64LittleEndian(footer[16..]);
        ulong checksum = BinaryPrimitives.ReadUInt64LittleEndian(footer[24..]);
        long end = fileLength - FooterSize;
        if (offset < 0 || length < 0 || length > MaxDirectoryBytes || offset > end || length != end - offset)
            throw Corrupt(path, $"the footer puts the directory at {offset} with {length} bytes, which does not end right before the footer of the {fileLength}-byte file");

        var directory = new byte[length];
        stream.Position = offset;
        stream.ReadExactly(directory);
        ulong actual = XxHash3.HashToUInt64(directory);
        if (actual != checksum)
            throw Corrupt(path, $"the directory's checksum is {actual:x16} but the footer says {checksum:x16}");
        return Parse(path, directory, offset);
    }

    private static List<TrailerEntry> Parse(string path, byte[] directory, long directoryOffset)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(directory);
        }
        catch (DecoderFallbackException)
        {
            throw Corrupt(path, "the directory is not UTF-8 text");
        }
        if (text.Length > 0 && !text.EndsWith('\n')) throw Corrupt(path, "the directory's last line does not end with a newline");

        var entries = new List<TrailerEntry>();
        long previousEnd = 0;
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Split('\t') is not [var name, var offsetText, var lengthText] || name.Length == 0 ||
                !long.TryParse(offsetText, NumberStyles.None, CultureInfo.InvariantCulture, out long offset) ||
                !long.TryParse(lengthText, NumberStyles.None, CultureInfo.InvariantCulture, out long length))
                throw Corrupt(path, $"directory line '{line}' is not \"name<TAB>offset<TAB>length\"");
            if (offset % Alignment != 0 || length <= 0 || offset < previousEnd || offset > directoryOffset || length > directoryOffset - offset)
                throw Corrupt(path, $"entry {name} at {offset} with {length} bytes is not a page-aligned range after the previous model and before the directory at {directoryOffset}");
            if (entries.Exists(e => e.Name == name)) throw Corrupt(path, $"entry {name} appears twice");
            entries.Add(new TrailerEntry(name, offset, length));
            previousEnd = offset + length;
        }
        return entries;
    }

    private static ModelFormatException Corrupt(string path, string problem) =>
        new(path, $"model trailer: {problem}; the executable is corrupt or was modified after publish, publish it again");
}
