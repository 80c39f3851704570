using System.IO.MemoryMappedFiles;

namespace Caldera.Runtime.Formats;

/// <summary>
/// A read-only memory map of a whole file. Tensors point straight into it (zero-copy); every offset is
/// checked against the file length in 64-bit arithmetic before a pointer is handed out.
/// </summary>
internal sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _pointer;

    private MappedFile(string path, long length, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* pointer)
    {
        Path = path;
        Length = length;
        _map = map;
        _view = view;
        _pointer = pointer;
    }

    public string Path { get; }
    public long Length { get; }

    public static MappedFile Open(string path)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(path, $"cannot open the file ({e.Message})", e);
        }

        long length = stream.Length;
        if (length == 0)
        {
            stream.Dispose();
            throw new ModelFormatException(path, "the file is empty");
        }

        var map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
        var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        pointer += view.PointerOffset;
        return new MappedFile(path, length, map, view, pointer);
    }

    /// <summary>
    /// Maps <paramref name="path"/> and hands it to <paramref name="read"/>, whose result takes ownership of the
    /// mapping; when <paramref name="read"/> throws (a corrupt file), the mapping is released before the error goes on.
    /// </summary>
    public static T Read<T>(string path, Func<MappedFile, T> read)
    {
        var file = Open(path);
        try
        {
            return read(file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>A pointer to <paramref name="count"/> bytes at <paramref name="offset"/>, after checking they lie inside the file.</summary>
    public byte* At(long offset, long count, string what)
    {
        if (offset < 0 || count < 0 || offset > Length || count > Length - offset)
            throw new ModelFormatException(Path,
                $"{what} spans bytes {offset}..{offset + count} but the file has only {Length} bytes (truncated or corrupt)");
        return _pointer + offset;
    }

    public ReadOnlySpan<byte> Span(long offset, int count, string what) => new(At(offset, count, what), count);

    public void Dispose()
    {
        if (_pointer == null) return;
        _pointer = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
