namespace Caldera.Common;

/// <summary>
/// Outputs appear whole or not at all: each is written beside its destination under a temporary name, flushed to
/// disk and renamed over it (a rename within one folder is atomic), so a reader, or an incremental build after a
/// cancelled one, never sees a truncated .cald, description or manifest; a failed write removes its temporary file
/// and leaves the previous file, if any, untouched.
/// </summary>
internal static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> through <paramref name="write"/>, which gets the temporary file's stream.</summary>
    public static void Write(string path, Action<FileStream> write, int bufferSize = 4096)
    {
        string target = Path.GetFullPath(path);
        // Unique, so that two writers of one file never share a temporary; hidden, and named after the target.
        string temporary = Path.Combine(Path.GetDirectoryName(target) ?? ".", $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, bufferSize))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, target, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, stream => stream.Write(bytes));

    public static void Copy(string source, string destination) => Write(destination, target =>
    {
        using var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read);
        input.CopyTo(target);
    });

    /// <summary>
    /// The stable temporary name under which another process (the <c>caldera</c> tool) writes <paramref name="path"/>;
    /// stable so that a cancelled compression finds its layer cache (<c>&lt;path&gt;.partial.parts/</c>) again.
    /// </summary>
    public static string TemporaryFor(string path) => path + ".partial";

    /// <summary>Moves a finished <see cref="TemporaryFor"/> file over <paramref name="path"/>.</summary>
    public static void Commit(string temporaryPath, string path) => File.Move(temporaryPath, path, overwrite: true);

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The original error matters more; a stray temporary file is named so that it is recognisable.
        }
    }
}
