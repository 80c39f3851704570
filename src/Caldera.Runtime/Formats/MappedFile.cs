using System.IO.MemoryMappedFiles;

namespace Caldera.Runtime.Formats;

/// <summary>
/// A read-only memory map of a whole file, or of a window [offset, offset + length) of one (a model appended to an
/// executable). Tensors point straight into it (zero-copy).
/// </summary>
internal sealed unsafe class MappedFile : ByteSource
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;

    private MappedFile(string path, long length, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* start)
        : base(path, length, start)
    {
        _map = map;
        _view = view;
    }

    public static MappedFile Open(string path) => Open(path, 0, null, path);

    /// <summary>
    /// Maps <paramref name="length"/> bytes of <paramref name="path"/> from <paramref name="offset"/> (the rest of the
    /// file when null); errors and later reads name the window <paramref name="name"/>.
    /// </summary>
    public static MappedFile Open(string path, long offset, long? length, string name)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(name, $"cannot open the file ({e.Message})", e);
        }

        long fileLength = stream.Length;
        long count = length ?? fileLength - offset;
        if (offset < 0 || count < 0 || offset > fileLength || count > fileLength - offset)
        {
            stream.Dispose();
            throw new ModelFormatException(name, $"bytes {offset}..{offset + count} lie outside the {fileLength}-byte file {path} (truncated or corrupt)");
        }
        if (count == 0)
        {
            stream.Dispose();
            throw new ModelFormatException(name, "the file is empty");
        }

        var map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
        var view = map.CreateViewAccessor(offset, count, MemoryMappedFileAccess.Read);
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        return new MappedFile(name, count, map, view, pointer + view.PointerOffset);
    }

    /// <summary>
    /// Maps <paramref name="path"/> and hands it to <paramref name="read"/>, whose result takes ownership of the
    /// mapping; when <paramref name="read"/> throws (a corrupt file), the mapping is released before the error goes on.
    /// </summary>
    public static T Read<T>(string path, Func<MappedFile, T> read) => Read(Open(path), read);

    protected override void Release()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
