using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using System.Text;

namespace Caldera.Build.Tasks.Trailer;

/// <summary>
/// Models appended to a native executable (docs/build-integration.md, section 3):
/// <code>
/// [executable][zero pad to 4096][model₁ .cald][zero pad to 4096][model₂ .cald]…[directory][footer]
/// directory: UTF-8 lines "name\toffset\tlength\n", offsets absolute from the start of the file
/// footer (last 32 bytes): "CALDTRL1" | int64 directory offset | int64 directory length | uint64 XxHash3(directory)
/// </code>
/// All integers little-endian. Page alignment lets the runtime map each model directly.
/// </summary>
internal static class TrailerLayout
{
    public const int Alignment = 4096;
    public const int FooterLength = 32;
    public static ReadOnlySpan<byte> Magic => "CALDTRL1"u8;

    /// <summary>A directory larger than this is not one we wrote (a few lines per model); checked before reading it.</summary>
    public const long MaxDirectoryLength = 1 << 20;

    public static long Padding(long length) => (Alignment - length % Alignment) % Alignment;

    public static byte[] Directory(IEnumerable<TrailerEntry> entries)
    {
        var text = new StringBuilder();
        foreach (var e in entries)
            text.Append(CultureInfo.InvariantCulture, $"{e.Name}\t{e.Offset}\t{e.Length}\n");
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    public static byte[] Footer(long directoryOffset, byte[] directory)
    {
        var footer = new byte[FooterLength];
        Magic.CopyTo(footer);
        BinaryPrimitives.WriteInt64LittleEndian(footer.AsSpan(8), directoryOffset);
        BinaryPrimitives.WriteInt64LittleEndian(footer.AsSpan(16), directory.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(footer.AsSpan(24), XxHash3.HashToUInt64(directory));
        return footer;
    }
}

/// <summary>One model in the trailer directory.</summary>
internal readonly record struct TrailerEntry(string Name, long Offset, long Length);
