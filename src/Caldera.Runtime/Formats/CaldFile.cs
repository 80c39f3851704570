using System.Buffers.Binary;
using System.IO.Hashing;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Hosting;

namespace Caldera.Runtime.Formats;

/// <summary>
/// A <c>.cald</c> compressed model, read in place and verified: magic, version, length, checksum over every
/// byte, then a strict reading of the manifest in which every section's offset and length is checked in 64-bit
/// arithmetic against the bytes before use. An app's model may have its checksum computed on a low-priority thread instead,
/// beside the first generation (<see cref="Open(ByteSource, bool, Action{TokenizerPayload, string})"/>; docs/format.md, "Header"). The bytes are a
/// memory-mapped file, a mapped window of an executable's trailer or an embedded resource (see
/// <see cref="Hosting.CalderaModelSource"/>). <see cref="Content"/>'s arrays are zero-copy views of them (packed signs
/// and uniform codes are unpacked), valid until this object is disposed.
/// </summary>
internal sealed class CaldFile : IDisposable
{
    /// <summary>Far above any real manifest (a few hundred bytes per matrix); keeps a forged length from allocating gigabytes.</summary>
    private const long MaxManifestBytes = 64L << 20;

    /// <summary>
    /// Checksum input per step (spans are int-sized, files need not be): small, so that a dispose waits at most one
    /// step (a few milliseconds) for a background check to stop reading the bytes.
    /// </summary>
    private const int ChecksumChunk = 16 << 20;

    private readonly ByteSource _file;

    /// <summary>The background checksum's verdict: the mismatch's message, or null (intact, or stopped by a dispose); null when checked at open.</summary>
    private Task<string?>? _checksumCheck;

    /// <summary>Set by <see cref="Dispose"/>: the background check stops before its next step.</summary>
    private volatile bool _disposing;

    private CaldFile(ByteSource file, uint version, ulong checksum, CompressedModelContent content, BitsPerWeight bits)
    {
        _file = file;
        Version = version;
        Checksum = checksum;
        Content = content;
        Bits = bits;
    }

    /// <summary>The file, or what the bytes are called in errors (e.g. "resource Caldera.Models.Stories.cald in StoryTeller").</summary>
    public string Path => _file.Path;

    public long Length => _file.Length;

    /// <summary>The format version the header states (<see cref="CaldLayout.OldestReadableVersion"/> … <see cref="CaldLayout.Version"/>).</summary>
    public uint Version { get; }

    /// <summary>
    /// The header's XxHash3-64 of every byte: identifies this exact file (a build pins it in its model description). Verified
    /// at open, or by the background check (<see cref="ThrowIfCorrupt"/>).
    /// </summary>
    public ulong Checksum { get; }

    public CompressedModelContent Content { get; }

    /// <summary>The whole file's bits per weight and the linear layers' (<see cref="BitsPerWeight"/>), counted from the tensors and the file's length.</summary>
    public BitsPerWeight Bits { get; }

    /// <summary>Whether <paramref name="path"/> starts with the <c>.cald</c> magic (false if it cannot be read).</summary>
    public static bool HasMagic(string path)
    {
        Span<byte> magic = stackalloc byte[CaldLayout.Magic.Length];
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            return stream.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false) == magic.Length && magic.SequenceEqual(CaldLayout.Magic);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Opens and verifies <paramref name="path"/>; every problem is a <see cref="ModelFormatException"/> naming the file.</summary>
    public static CaldFile Open(string path, bool checksumInBackground = false, Action<TokenizerPayload, string>? tokenizerRead = null)
    {
        if (!BitConverter.IsLittleEndian) throw new ModelFormatException(path, ".cald files are little-endian; this machine is not");
        return Open(MappedFile.Open(path), checksumInBackground, tokenizerRead);
    }

    /// <summary>
    /// Verifies and reads <paramref name="source"/>, which the result owns (released here when it is corrupt). With
    /// <paramref name="checksumInBackground"/> the header and the manifest are verified here as always, but the checksum
    /// of every byte is computed on a low-priority thread of its own (<see cref="LowPriorityWork"/>): its verdict is <see cref="ThrowIfCorrupt"/> and
    /// <see cref="VerifyChecksumAsync"/>.
    /// </summary>
    /// <remarks><paramref name="tokenizerRead"/>: see <see cref="CaldManifestReader.Read"/>.</remarks>
    internal static CaldFile Open(ByteSource source, bool checksumInBackground = false, Action<TokenizerPayload, string>? tokenizerRead = null)
    {
        if (!BitConverter.IsLittleEndian) throw new ModelFormatException(source.Path, ".cald files are little-endian; this machine is not");
        return ByteSource.Read(source, file =>
        {
            var (version, manifestOffset, manifestLength) = ReadHeader(file);
            ulong checksum = BinaryPrimitives.ReadUInt64LittleEndian(file.Span(CaldLayout.ChecksumOffset, 8, "the checksum"));
            if (!checksumInBackground && ChecksumMismatch(file, checksum, stop: null) is { } mismatch) throw new ModelFormatException(file.Path, mismatch);
            var (content, bits) = CaldManifestReader.Read(file, version, manifestOffset, manifestLength, tokenizerRead);
            var opened = new CaldFile(file, version, checksum, content, bits);
            if (checksumInBackground)
                opened._checksumCheck = LowPriorityWork.Run("caldera checksum", () => ChecksumMismatch(file, checksum, () => opened._disposing));
            return opened;
        });
    }

    /// <summary>Throws the background check's <see cref="ModelFormatException"/> if it has found the bytes corrupt; does not wait for it.</summary>
    public void ThrowIfCorrupt()
    {
        if (_checksumCheck is { IsCompletedSuccessfully: true, Result: { } mismatch }) throw new ModelFormatException(Path, mismatch);
    }

    /// <summary>Completes when the background check (if any) has finished; throws its <see cref="ModelFormatException"/> if the bytes are corrupt.</summary>
    public async Task VerifyChecksumAsync(CancellationToken cancellationToken = default)
    {
        if (_checksumCheck is { } check) await check.WaitAsync(cancellationToken).ConfigureAwait(false);
        ThrowIfCorrupt();
    }

    private static (uint Version, long Offset, long Length) ReadHeader(ByteSource file)
    {
        string path = file.Path;
        if (file.Length < CaldLayout.HeaderSize)
            throw new ModelFormatException(path, $"{file.Length} bytes is shorter than the {CaldLayout.HeaderSize}-byte .cald header (truncated, or not a .cald file)");
        var header = file.Span(0, CaldLayout.HeaderSize, "the header");
        if (!header[..CaldLayout.Magic.Length].SequenceEqual(CaldLayout.Magic))
            throw new ModelFormatException(path, "bad magic: not a .cald file (or its first bytes are corrupt)");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(header[CaldLayout.VersionOffset..]);
        if (version is < CaldLayout.OldestReadableVersion or > CaldLayout.Version)
            throw new ModelFormatException(path, $"format version {version} is not supported (this build reads versions {CaldLayout.OldestReadableVersion} to {CaldLayout.Version}); " +
                (version > CaldLayout.Version ? "a newer caldera wrote it: update caldera, or re-create the file with this one's caldera compress" : "re-create the file with caldera compress"));
        foreach (var (start, end) in CaldLayout.Reserved)
            if (header[start..end].IndexOfAnyExcept((byte)0) is var at and >= 0)
                throw new ModelFormatException(path, $"reserved header byte {start + at} is {header[start + at]}, not 0 (a corrupt header, or a file from a newer caldera)");
        long fileLength = BinaryPrimitives.ReadInt64LittleEndian(header[CaldLayout.FileLengthOffset..]);
        if (fileLength != file.Length)
            throw new ModelFormatException(path, $"the header says the file has {fileLength} bytes but it has {file.Length} (truncated or extended copy); copy it again");
        long offset = BinaryPrimitives.ReadInt64LittleEndian(header[CaldLayout.ManifestOffsetOffset..]);
        long length = BinaryPrimitives.ReadInt64LittleEndian(header[CaldLayout.ManifestLengthOffset..]);
        if (offset < CaldLayout.HeaderSize || offset % CaldLayout.Alignment != 0 || length <= 0 || length > MaxManifestBytes ||
            offset > file.Length || length != file.Length - offset)
            throw new ModelFormatException(path, $"the manifest at {offset} of {length} bytes does not end the {file.Length}-byte file on an aligned offset (corrupt header)");
        return (version, offset, length);
    }

    /// <summary>
    /// Null when <paramref name="stored"/> is the XxHash3-64 of every byte (the checksum field read as zero), else the
    /// message saying so; also null when <paramref name="stop"/> says to stop before the end.
    /// </summary>
    private static string? ChecksumMismatch(ByteSource file, ulong stored, Func<bool>? stop)
    {
        var hash = new XxHash3();
        CaldLayout.AppendHeader(hash, file.Span(0, CaldLayout.HeaderSize, "the header"));
        for (long offset = CaldLayout.HeaderSize; offset < file.Length; offset += ChecksumChunk)
        {
            if (stop?.Invoke() == true) return null;
            int count = (int)Math.Min(ChecksumChunk, file.Length - offset);
            hash.Append(file.Span(offset, count, "the checksummed bytes"));
        }
        ulong actual = hash.GetCurrentHashAsUInt64();
        return stored == actual ? null
            : $"checksum mismatch (stored {stored:x16}, computed {actual:x16}): the file is corrupt; copy it again or re-create it with caldera compress";
    }

    /// <summary>Stops the background check, if it runs, before the bytes are released.</summary>
    public void Dispose()
    {
        _disposing = true;
        _checksumCheck?.Wait();
        _file.Dispose();
    }
}
