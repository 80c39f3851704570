using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace Caldera.Runtime.Formats;

/// <summary>
/// A read-only memory map of a whole file, or of a window [offset, offset + length) of one (a model appended to an
/// executable). Tensors point straight into it (zero-copy).
/// </summary>
internal sealed unsafe partial class MappedFile : ByteSource
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;

    /// <summary>The mapping's first page (the view starts there, <see cref="MemoryMappedViewAccessor.PointerOffset"/> before the window) and its length from there.</summary>
    private readonly byte* _mapped;
    private readonly long _mappedLength;

    private MappedFile(string path, long length, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* mapped)
        : base(path, length, mapped + view.PointerOffset)
    {
        _map = map;
        _view = view;
        _mapped = mapped;
        _mappedLength = length + view.PointerOffset;
    }

    /// <summary>
    /// madvise(MADV_DONTNEED) over the whole mapping (Linux): a read-only file mapping's pages leave the resident set and
    /// stay in the page cache, so a later read faults them back in without disk I/O. A compression reads a checkpoint
    /// block by block, and every page it has read counts in its peak resident set until released (the whole 0.98 GB
    /// file of the dim-2048 model, beside a heap capped lower than that).
    /// </summary>
    public override void ReleaseResidentPages()
    {
        if (OperatingSystem.IsLinux()) _ = Madvise(_mapped, (nuint)_mappedLength, DontNeed);
    }

    private const int DontNeed = 4;

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(byte* address, nuint length, int advice);

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
        return new MappedFile(name, count, map, view, pointer);
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
