using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using System.Text;

namespace Caldera.Common;

/// <summary>
/// The models appended to a native executable (docs/format.md, "Executable trailer"), for the build task that writes
/// them and the runtime that reads them; both compile this one file, so they cannot disagree:
/// <code>
/// [executable][zero pad to 4096][model₁ .cald][zero pad to 4096][model₂ .cald]…[directory][footer]
/// directory: UTF-8 lines "name\toffset\tlength\n", offsets absolute from the start of the file
/// footer (last 32 bytes): "CALDTRL1" | int64 directory offset | int64 directory length | uint64 XxHash3(directory)
/// </code>
/// All integers little-endian. Models start on page boundaries so that each one can be mapped on its own.
/// </summary>
internal static class TrailerLayout
{
    public const int Alignment = 4096;
    public const int FooterLength = 32;

    /// <summary>Far above any real directory (a line per model); keeps a forged footer from allocating gigabytes.</summary>
    public const int MaxDirectoryLength = 1 << 20;

    public static ReadOnlySpan<byte> Magic => "CALDTRL1"u8;

    /// <summary>The zero bytes that bring <paramref name="length"/> up to the next page boundary.</summary>
    public static long Padding(long length) => (Alignment - length % Alignment) % Alignment;

    public static byte[] Directory(IEnumerable<TrailerEntry> entries)
    {
        var text = new StringBuilder();
        foreach (var e in entries)
            text.Append(CultureInfo.InvariantCulture, $"{e.Name}\t{e.Offset}\t{e.Length}\n");
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    public static byte[] Footer(long directoryOffset, ReadOnlySpan<byte> directory) =>
        Footer(directoryOffset, directory.Length, XxHash3.HashToUInt64(directory));

    public static byte[] Footer(long directoryOffset, long directoryLength, ulong checksum)
    {
        var footer = new byte[FooterLength];
        Magic.CopyTo(footer);
        BinaryPrimitives.WriteInt64LittleEndian(footer.AsSpan(8), directoryOffset);
        BinaryPrimitives.WriteInt64LittleEndian(footer.AsSpan(16), directoryLength);
        BinaryPrimitives.WriteUInt64LittleEndian(footer.AsSpan(24), checksum);
        return footer;
    }

    /// <summary>
    /// The trailer's directory, or null when <paramref name="stream"/> does not end in one. Every number is checked
    /// in 64-bit arithmetic against the stream before anything is allocated, and the directory must hash to the
    /// footer's checksum. Throws <see cref="InvalidDataException"/> naming the problem when the trailer is damaged.
    /// </summary>
    public static TrailerDirectory? Read(Stream stream)
    {
        long fileLength = stream.Length;
        if (fileLength < FooterLength) return null;
        Span<byte> footer = stackalloc byte[FooterLength];
        stream.Position = fileLength - FooterLength;
        stream.ReadExactly(footer);
        if (!footer[..Magic.Length].SequenceEqual(Magic)) return null;

        long offset = BinaryPrimitives.ReadInt64LittleEndian(footer[8..]);
        long length = BinaryPrimitives.ReadInt64LittleEndian(footer[16..]);
        ulong checksum = BinaryPrimitives.ReadUInt64LittleEndian(footer[24..]);
        long end = fileLength - FooterLength;
        if (offset < 0 || length < 0 || length > MaxDirectoryLength || offset > end || length != end - offset)
            throw new InvalidDataException($"the footer puts the directory at {offset} with {length} bytes, which does not end right before the footer of the {fileLength}-byte file");

        var directory = new byte[length];
        stream.Position = offset;
        stream.ReadExactly(directory);
        ulong actual = XxHash3.HashToUInt64(directory);
        if (actual != checksum)
            throw new InvalidDataException($"the directory's checksum is {actual:x16} but the footer says {checksum:x16}");
        return new TrailerDirectory(offset, ParseDirectory(directory, offset));
    }

    private static List<TrailerEntry> ParseDirectory(byte[] directory, long directoryOffset)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(directory);
        }
        catch (DecoderFallbackException)
        {
            throw new InvalidDataException("the directory is not UTF-8 text");
        }
        if (text.Length > 0 && !text.EndsWith('\n')) throw new InvalidDataException("the directory's last line does not end with a newline");

        var entries = new List<TrailerEntry>();
        long previousEnd = 0;
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Split('\t') is not [var name, var offsetText, var lengthText] || name.Length == 0 ||
                !long.TryParse(offsetText, NumberStyles.None, CultureInfo.InvariantCulture, out long offset) ||
                !long.TryParse(lengthText, NumberStyles.None, CultureInfo.InvariantCulture, out long length))
                throw new InvalidDataException($"directory line '{line}' is not \"name<TAB>offset<TAB>length\"");
            if (offset % Alignment != 0 || length <= 0 || offset < previousEnd || offset > directoryOffset || length > directoryOffset - offset)
                throw new InvalidDataException($"entry {name} at {offset} with {length} bytes is not a page-aligned range after the previous model and before the directory at {directoryOffset}");
            if (entries.Exists(e => e.Name == name)) throw new InvalidDataException($"entry {name} appears twice");
            entries.Add(new TrailerEntry(name, offset, length));
            previousEnd = offset + length;
        }
        return entries;
    }
}

/// <summary>A trailer's directory: where it starts and its entries, in file order.</summary>
internal sealed record TrailerDirectory(long Offset, IReadOnlyList<TrailerEntry> Entries)
{
    /// <summary>Where the first model starts: the end of the executable the models were appended to.</summary>
    public long ModelsStart => Entries.Count > 0 ? Entries[0].Offset : Offset;
}

/// <summary>One model in an executable's trailer: its name and where its <c>.cald</c> bytes lie (offsets from the start of the file).</summary>
internal sealed record TrailerEntry(string Name, long Offset, long Length);
