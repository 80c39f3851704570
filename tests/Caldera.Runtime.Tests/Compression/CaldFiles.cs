using System.Buffers.Binary;
using System.Text;
using Caldera.Runtime.Formats;

namespace Caldera.Runtime.Tests.Compression;

/// <summary>Forges .cald files with an edited manifest but a valid frame and checksum: what a hostile or buggy writer would produce.</summary>
internal static class CaldFiles
{
    public static string Manifest(byte[] file)
    {
        long offset = BinaryPrimitives.ReadInt64LittleEndian(file.AsSpan(CaldLayout.ManifestOffsetOffset));
        return Encoding.UTF8.GetString(file.AsSpan((int)offset));
    }

    /// <summary>The file with its manifest replaced by <paramref name="manifest"/>, the lengths and the checksum fixed up.</summary>
    public static byte[] WithManifest(byte[] file, string manifest)
    {
        long offset = BinaryPrimitives.ReadInt64LittleEndian(file.AsSpan(CaldLayout.ManifestOffsetOffset));
        byte[] json = Encoding.UTF8.GetBytes(manifest);
        var forged = new byte[offset + json.Length];
        file.AsSpan(0, (int)offset).CopyTo(forged);
        json.CopyTo(forged, offset);
        BinaryPrimitives.WriteInt64LittleEndian(forged.AsSpan(CaldLayout.ManifestLengthOffset), json.Length);
        BinaryPrimitives.WriteInt64LittleEndian(forged.AsSpan(CaldLayout.FileLengthOffset), forged.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(forged.AsSpan(CaldLayout.ChecksumOffset), CaldLayout.Checksum(forged));
        return forged;
    }

    /// <summary>
    /// Replaces occurrence <paramref name="occurrence"/> (0-based; it must exist) of <paramref name="find"/> in the manifest;
    /// both may be written as readable JSON (<c>"key": value</c>), the manifest being compact (<c>"key":value</c>).
    /// </summary>
    public static byte[] EditManifest(byte[] file, string find, string replace, int occurrence = 0)
    {
        find = find.Replace("\": ", "\":", StringComparison.Ordinal);
        replace = replace.Replace("\": ", "\":", StringComparison.Ordinal);
        string manifest = Manifest(file);
        int at = manifest.IndexOf(find, StringComparison.Ordinal);
        for (int i = 0; i < occurrence && at >= 0; i++) at = manifest.IndexOf(find, at + 1, StringComparison.Ordinal);
        Assert.True(at >= 0, $"'{find}' is not in the manifest");
        return WithManifest(file, manifest[..at] + replace + manifest[(at + find.Length)..]);
    }
}
