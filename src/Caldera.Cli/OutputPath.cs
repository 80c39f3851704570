using System.Runtime.InteropServices;
using Caldera.Runtime.Formats;

namespace Caldera.Cli;

/// <summary>
/// The checks every verb that writes a file makes on its output path before it starts work: the path names a file
/// (not empty, not an existing directory), its folder exists (it is created if missing) and takes new files, and it is none of the inputs
/// (compared by full path and, on Linux, by device and inode, so a symbolic or hard link to an input is caught too).
/// A failure is a <see cref="CliUsageException"/> or <see cref="ModelFormatException"/> naming the path and the fix.
/// </summary>
internal static partial class OutputPath
{
    /// <summary>Checks <paramref name="output"/> (given as <paramref name="option"/> to <paramref name="verb"/>) against <paramref name="inputs"/> (nulls are skipped).</summary>
    public static void Check(string verb, string option, string output, params string?[] inputs)
    {
        if (string.IsNullOrWhiteSpace(output))
            throw new CliUsageException($"{verb}: {option} is empty; give the file to write");
        if (Directory.Exists(output))
            throw new ModelFormatException(output, $"is a directory; give {option} a file name (e.g. {Path.Combine(output, "model.cald")})");
        foreach (string? input in inputs)
            if (input is not null && SameFile(input, output))
                throw new ModelFormatException(output, $"is the input {input}; writing it would destroy the input: give {option} another file");
        string folder = Path.GetDirectoryName(Path.GetFullPath(output)) ?? ".";
        string probe = Path.Combine(folder, $".{Path.GetFileName(output)}.{Environment.ProcessId}.probe");
        try
        {
            Directory.CreateDirectory(folder);
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(output, $"cannot create files in {folder} ({e.Message}); choose a writable {option}");
        }
    }

    /// <summary>A write that failed after the checks (a full disk, a folder made read-only meanwhile) as the error to report.</summary>
    public static ModelFormatException WriteFailed(string path, Exception e, string keep = "") =>
        new(path, $"cannot write ({e.Message}){keep}; free space or choose another output, then rerun");

    private static bool SameFile(string a, string b)
    {
        if (string.Equals(Path.GetFullPath(a), Path.GetFullPath(b), StringComparison.Ordinal)) return true;
        if (!File.Exists(a) || !File.Exists(b) || !OperatingSystem.IsLinux()) return false;
        return Identity(a) is { } x && Identity(b) is { } y && x == y;
    }

    /// <summary>(st_dev, st_ino): the first two 64-bit fields of Linux's struct stat on x64 and arm64.</summary>
    private static unsafe (ulong Device, ulong Inode)? Identity(string path)
    {
        byte* buffer = stackalloc byte[256];
        if (Stat(path, buffer) != 0) return null;
        return (((ulong*)buffer)[0], ((ulong*)buffer)[1]);
    }

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Stat(string path, byte* buffer);
}
