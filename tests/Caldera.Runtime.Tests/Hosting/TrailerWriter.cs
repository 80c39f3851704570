using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Caldera.Runtime.Hosting;

namespace Caldera.Runtime.Tests.Hosting;

/// <summary>
/// Test-only writer of the executable trailer, written from the byte layout in docs/format.md (the real writer is
/// the build task's, which does not reference the runtime): executable, then each model on a 4096-byte boundary,
/// then the directory and the 32-byte footer.
/// </summary>
internal static class TrailerWriter
{
    public static byte[] Append(byte[] executable, params (string Name, byte[] Cald)[] models)
    {
        var file = new MemoryStream();
        file.Write(executable);
        var directory = new StringBuilder();
        foreach (var (name, cald) in models)
        {
            Pad(file);
            directory.Append($"{name}\t{file.Length}\t{cald.Length}\n");
            file.Write(cald);
        }
        long directoryOffset = file.Length;
        byte[] directoryBytes = Encoding.UTF8.GetBytes(directory.ToString());
        file.Write(directoryBytes);
        return WithFooter(file, directoryOffset, directoryBytes.Length, XxHash3.HashToUInt64(directoryBytes));
    }

    public static byte[] WithFooter(MemoryStream file, long directoryOffset, long directoryLength, ulong checksum)
    {
        Span<byte> footer = stackalloc byte[CalderaTrailer.FooterSize];
        CalderaTrailer.Magic.CopyTo(footer);
        BinaryPrimitives.WriteInt64LittleEndian(footer[8..], directoryOffset);
        BinaryPrimitives.WriteInt64LittleEndian(footer[16..], directoryLength);
        BinaryPrimitives.WriteUInt64LittleEndian(footer[24..], checksum);
        file.Write(footer);
        return file.ToArray();
    }

    private static void Pad(MemoryStream file)
    {
        long padded = (file.Length + CalderaTrailer.Alignment - 1) / CalderaTrailer.Alignment * CalderaTrailer.Alignment;
        file.Write(new byte[padded - file.Length]);
    }
}
