using Caldera.Common;
using Caldera.Runtime.Formats;

namespace Caldera.Runtime.Hosting;

/// <summary>
/// Finds the models appended to a published executable. The layout and its checks are <see cref="TrailerLayout"/>'s,
/// shared with the build task that writes the trailer; this turns a damaged trailer into a
/// <see cref="ModelFormatException"/> naming the executable. Each <c>.cald</c> then verifies its own bytes when opened.
/// </summary>
internal static class CalderaTrailer
{
    /// <summary>The directory of <paramref name="path"/>'s trailer, or null when the file does not end in one.</summary>
    public static IReadOnlyList<TrailerEntry>? ReadDirectory(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            return ReadDirectory(stream, path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(path, $"cannot read the executable to look for its model trailer ({e.Message})", e);
        }
    }

    /// <summary>The named entry of <paramref name="path"/>'s trailer, or null when there is no trailer or no such entry.</summary>
    public static TrailerEntry? Find(string path, string name) =>
        ReadDirectory(path)?.FirstOrDefault(e => string.Equals(e.Name, name, StringComparison.Ordinal));

    internal static IReadOnlyList<TrailerEntry>? ReadDirectory(Stream stream, string path)
    {
        try
        {
            return TrailerLayout.Read(stream)?.Entries;
        }
        catch (InvalidDataException e)
        {
            throw new ModelFormatException(path, $"model trailer: {e.Message}; the executable is corrupt or was modified after publish, publish it again");
        }
    }
}
