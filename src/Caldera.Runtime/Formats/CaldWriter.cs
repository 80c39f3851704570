using System.Buffers.Binary;
using System.IO.Hashing;
using Caldera.Common;
using Caldera.Runtime.Compression;

namespace Caldera.Runtime.Formats;

/// <summary>
/// Writes a <see cref="CompressedModelContent"/> as a <c>.cald</c> file (docs/format.md), through
/// <see cref="AtomicFile"/>: a reader never sees a partial file and a failed write leaves the previous file (if any)
/// untouched. Identical content gives identical bytes:
/// no timestamps, fixed manifest order, deterministic layout.
/// </summary>
internal static class CaldWriter
{
    /// <summary>Slack after the manifest so that writing the file's own bits-per-weight figure cannot change its length (a double prints in ≤ 24 characters).</summary>
    private const int ManifestSlack = 32;

    /// <summary>
    /// Writes <paramref name="content"/> to <paramref name="path"/>. Throws <see cref="ArgumentException"/> when
    /// the content is inconsistent (nothing is written then) and passes I/O errors through (the temporary file
    /// is removed).
    /// </summary>
    public static void Write(string path, CompressedModelContent content)
    {
        ArgumentNullException.ThrowIfNull(content);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException(".cald files are little-endian; this machine is not.");
        try
        {
            content.Config.Validate("content");
        }
        catch (ModelFormatException e)
        {
            throw new ArgumentException($"the model config is invalid: {e.Problem}", nameof(content), e);
        }
        if (CompressedModelCheck.FindProblem(content) is var (name, problem))
            throw new ArgumentException($"{name}: {problem}", nameof(content));

        // The manifest records the file's bits per weight, which depends on the manifest's length: lay out with
        // a placeholder, fix the length with slack, then write the real figure into that length.
        var draft = CaldManifestWriter.Walk(content, BitsPerWeight.Of(content, 0));
        long manifestLength = draft.Manifest.Length + ManifestSlack;
        long fileLength = draft.ManifestOffset + manifestLength;
        var final = CaldManifestWriter.Walk(content, BitsPerWeight.Of(content, fileLength));
        if (final.Manifest.Length > manifestLength || final.ManifestOffset != draft.ManifestOffset)
            throw new InvalidOperationException("the .cald manifest outgrew its slack; this is a bug in the writer.");

        AtomicFile.Write(path, stream => WriteFile(stream, final, manifestLength, fileLength), bufferSize: 1 << 20);
    }

    private static void WriteFile(FileStream stream, CaldManifestWriter layout, long manifestLength, long fileLength)
    {
        var hash = new XxHash3();
        byte[] header = CaldLayout.Header(layout.ManifestOffset, manifestLength, fileLength);
        CaldLayout.AppendHeader(hash, header);
        stream.Write(header);
        long position = CaldLayout.HeaderSize;

        Span<byte> zeros = stackalloc byte[CaldLayout.Alignment];
        void Emit(ReadOnlySpan<byte> bytes)
        {
            hash.Append(bytes);
            stream.Write(bytes);
            position += bytes.Length;
        }
        void PadTo(long offset, Span<byte> zero)
        {
            while (position < offset) Emit(zero[..(int)Math.Min(zero.Length, offset - position)]);
        }

        foreach (var section in layout.Sections)
        {
            PadTo(section.Offset, zeros);
            ReadOnlySpan<byte> bytes = section.Bytes();
            if (bytes.Length != section.Length)
                throw new InvalidOperationException($"a section changed length while being written ({bytes.Length} bytes, planned {section.Length}); was the content modified concurrently?");
            Emit(bytes);
        }
        PadTo(layout.ManifestOffset, zeros);
        Emit(layout.Manifest);
        Span<byte> spaces = stackalloc byte[CaldLayout.Alignment];
        spaces.Fill((byte)' ');
        PadTo(fileLength, spaces);

        Span<byte> checksum = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(checksum, hash.GetCurrentHashAsUInt64());
        stream.Position = CaldLayout.ChecksumOffset;
        stream.Write(checksum);
    }
}
