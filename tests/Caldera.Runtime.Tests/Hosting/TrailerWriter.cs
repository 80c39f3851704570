using Caldera.Common;

namespace Caldera.Runtime.Tests.Hosting;

/// <summary>
/// An in-memory executable with models appended, encoded by the <see cref="TrailerLayout"/> the build task writes
/// with: executable, then each model on a page boundary, then the directory and the footer.
/// </summary>
internal static class TrailerWriter
{
    public static byte[] Append(byte[] executable, params (string Name, byte[] Cald)[] models)
    {
        var file = new MemoryStream();
        file.Write(executable);
        var entries = new List<TrailerEntry>();
        foreach (var (name, cald) in models)
        {
            file.Write(new byte[TrailerLayout.Padding(file.Length)]);
            entries.Add(new TrailerEntry(name, file.Length, cald.Length));
            file.Write(cald);
        }
        long directoryOffset = file.Length;
        byte[] directory = TrailerLayout.Directory(entries);
        file.Write(directory);
        file.Write(TrailerLayout.Footer(directoryOffset, directory));
        return file.ToArray();
    }

    /// <summary><paramref name="file"/> with a footer of the given (possibly forged) fields.</summary>
    public static byte[] WithFooter(MemoryStream file, long directoryOffset, long directoryLength, ulong checksum)
    {
        file.Write(TrailerLayout.Footer(directoryOffset, directoryLength, checksum));
        return file.ToArray();
    }
}
