using System.Buffers.Binary;
using System.IO.Hashing;

namespace Caldera.Runtime.Formats;

/// <summary>
/// The fixed frame of a <c>.cald</c> file (docs/format.md): a 64-byte header, 64-byte-aligned tensor
/// sections, then the JSON manifest, which ends the file.
/// </summary>
/// <remarks>
/// Header (little-endian): [0, 8) magic; [8, 12) format version; [12, 16) zero; [16, 24) manifest offset;
/// [24, 32) manifest length; [32, 40) file length; [40, 48) zero; [48, 56) XxHash3-64 checksum; [56, 64) zero.
/// The checksum covers every byte of the file, with its own 8 bytes read as zero, so a change anywhere
/// (header, sections, padding, manifest) is caught on load.
/// </remarks>
internal static class CaldLayout
{
    public const int HeaderSize = 64;
    public const int Alignment = 64;
    /// <summary>
    /// The version this build writes. 2 added the <c>int6_blocks</c> dtype for the embedding and the classifier; a
    /// version-1 file reads as before (its dense tensors are f32, f16 or bf16). 3 added <c>int4_blocks</c> for the embedding.
    /// </summary>
    public const uint Version = 3;

    /// <summary>The oldest version this build reads.</summary>
    public const uint OldestReadableVersion = 1;
    public const int VersionOffset = 8;
    public const int ManifestOffsetOffset = 16;
    public const int ManifestLengthOffset = 24;
    public const int FileLengthOffset = 32;
    public const int ChecksumOffset = 48;

    /// <summary>Header byte ranges [start, end) that versions 1 to 3 leave zero.</summary>
    public static readonly (int Start, int End)[] Reserved = [(12, 16), (40, 48), (56, 64)];

    /// <summary>"CALD", then CR LF SUB LF as in PNG, which catch text-mode transfers and truncated copies of the first line.</summary>
    public static ReadOnlySpan<byte> Magic => "CALD\r\n\u001a\n"u8;

    public static long Align(long offset) => (offset + Alignment - 1) / Alignment * Alignment;

    /// <summary>The header with the checksum field zero.</summary>
    public static byte[] Header(long manifestOffset, long manifestLength, long fileLength)
    {
        var header = new byte[HeaderSize];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(VersionOffset), Version);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(ManifestOffsetOffset), manifestOffset);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(ManifestLengthOffset), manifestLength);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(FileLengthOffset), fileLength);
        return header;
    }

    /// <summary>Feeds the header to <paramref name="hash"/> with its checksum field read as zero.</summary>
    public static void AppendHeader(XxHash3 hash, ReadOnlySpan<byte> header)
    {
        hash.Append(header[..ChecksumOffset]);
        hash.Append(stackalloc byte[8]);
        hash.Append(header[(ChecksumOffset + 8)..HeaderSize]);
    }

    /// <summary>The checksum of a whole file held in <paramref name="file"/> (tests use it to forge consistent files).</summary>
    public static ulong Checksum(ReadOnlySpan<byte> file)
    {
        var hash = new XxHash3();
        AppendHeader(hash, file);
        hash.Append(file[HeaderSize..]);
        return hash.GetCurrentHashAsUInt64();
    }
}
