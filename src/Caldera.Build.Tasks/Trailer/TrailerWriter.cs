using Caldera.Common;

namespace Caldera.Build.Tasks.Trailer;

/// <summary>
/// Appends models to a native executable as a <see cref="TrailerLayout"/> trailer. Idempotent: a file that
/// already ends in a valid trailer is cut back to where its first model starts before the new one is written,
/// so publishing twice gives the same bytes. Atomic (<see cref="AtomicFile"/>): the result is written to a
/// temporary copy beside the executable, keeping its file mode, and renamed over it.
/// </summary>
internal static class TrailerWriter
{
    public static IReadOnlyList<TrailerEntry> Append(string executable, IReadOnlyList<(string Name, string Path)> models)
    {
        if (!File.Exists(executable))
            throw new BuildFailure(BuildDiagnostic.TrailerExecutableMissing,
                $"the published executable '{executable}' does not exist, so the models with Storage=\"trailer\" have nowhere to go; publish with an app host (UseAppHost, or PublishAot), set $(CalderaTrailerExecutable) to the executable, or set Storage=\"resource\"");
        foreach (var (name, path) in models)
            if (!File.Exists(path))
                throw new BuildFailure(BuildDiagnostic.TrailerModelMissing, name == X86Variant.TrailerEntry
                    ? $"the x86-64-v4 executable '{path}' does not exist; publish again, or set CalderaInstructionSetVariant=false to publish the portable executable alone"
                    : $"the compressed model '{path}' of '{name}' does not exist; rebuild the project so it is compiled again");

        var entries = new List<TrailerEntry>();
        AtomicFile.Write(executable, target =>
        {
            using var source = new FileStream(executable, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(target.SafeFileHandle, File.GetUnixFileMode(source.SafeFileHandle));
            CopyPrefix(source, target, ExecutableLength(source, executable));
            foreach (var (name, path) in models)
            {
                WriteZeros(target, TrailerLayout.Padding(target.Position));
                long offset = target.Position;
                using (var model = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read)) model.CopyTo(target);
                entries.Add(new TrailerEntry(name, offset, target.Position - offset));
            }
            byte[] directory = TrailerLayout.Directory(entries);
            long directoryOffset = target.Position;
            target.Write(directory);
            target.Write(TrailerLayout.Footer(directoryOffset, directory));
        }, bufferSize: 1 << 16);
        return entries;
    }

    /// <summary>
    /// The executable's own length: the file's, or, when it already ends in a trailer, the offset of its first
    /// model. The zero padding before that model stays; re-padding an aligned length adds nothing, so the result
    /// of a second append is byte-identical to the first.
    /// </summary>
    internal static long ExecutableLength(FileStream file, string path)
    {
        try
        {
            return TrailerLayout.Read(file)?.ModelsStart ?? file.Length;
        }
        catch (InvalidDataException e)
        {
            throw Corrupt(path, e.Message);
        }
    }

    private static BuildFailure Corrupt(string path, string why) => new(BuildDiagnostic.TrailerCorrupt,
        $"'{path}' ends in a damaged Caldera trailer ({why}); delete the file and publish again so the models are appended to a fresh executable");

    private static void CopyPrefix(FileStream source, FileStream target, long length)
    {
        source.Position = 0;
        var buffer = new byte[1 << 16];
        for (long left = length; left > 0;)
        {
            int read = source.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
            if (read == 0) throw new EndOfStreamException($"{source.Name} shrank while it was being copied");
            target.Write(buffer, 0, read);
            left -= read;
        }
    }

    private static void WriteZeros(Stream target, long count)
    {
        Span<byte> zeros = stackalloc byte[TrailerLayout.Alignment];
        zeros.Clear();
        target.Write(zeros[..(int)count]);
    }
}
