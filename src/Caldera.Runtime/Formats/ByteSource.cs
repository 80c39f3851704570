namespace Caldera.Runtime.Formats;

/// <summary>
/// Bytes a reader takes tensors from in place: a whole memory-mapped file, a mapped window of a file (a model in an
/// executable's trailer) or unmanaged memory another object owns (an embedded resource). Every offset is checked
/// against <see cref="Length"/> in 64-bit arithmetic before a pointer is handed out; errors name <see cref="Path"/>.
/// </summary>
/// <remarks>
/// The start is only guaranteed 2-byte aligned (a manifest resource stream's pointer), so nothing that reads
/// through it may assume more: vector kernels load unaligned, and x64/Arm64 scalar loads tolerate it.
/// </remarks>
internal abstract unsafe class ByteSource : IDisposable
{
    private byte* _start;

    protected ByteSource(string path, long length, byte* start)
    {
        Path = path;
        Length = length;
        _start = start;
    }

    /// <summary>What errors name: a file path, or e.g. "resource Caldera.Models.Stories.cald in StoryTeller".</summary>
    public string Path { get; }

    public long Length { get; }

    /// <summary>
    /// Hands <paramref name="source"/> to <paramref name="read"/>, whose result takes ownership of it; when
    /// <paramref name="read"/> throws (corrupt bytes), the source is released before the error goes on.
    /// </summary>
    public static T Read<TSource, T>(TSource source, Func<TSource, T> read) where TSource : ByteSource
    {
        try
        {
            return read(source);
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    /// <summary>A pointer to <paramref name="count"/> bytes at <paramref name="offset"/>, after checking they lie inside the source.</summary>
    public byte* At(long offset, long count, string what)
    {
        if (_start == null) throw new ObjectDisposedException(Path);
        if (offset < 0 || count < 0 || offset > Length || count > Length - offset)
            throw new ModelFormatException(Path,
                $"{what} spans bytes {offset}..{offset + count} but the file has only {Length} bytes (truncated or corrupt)");
        return _start + offset;
    }

    public ReadOnlySpan<byte> Span(long offset, int count, string what) => new(At(offset, count, what), count);

    public void Dispose()
    {
        if (_start == null) return;
        _start = null;
        Release();
    }

    /// <summary>
    /// Drops the pages read so far from the process's resident set, where the source is a file the kernel can read
    /// them back from (<see cref="MappedFile"/>); elsewhere nothing. The bytes stay readable.
    /// </summary>
    public virtual void ReleaseResidentPages()
    {
    }

    /// <summary>Gives the memory back (unmap, close the stream); called once.</summary>
    protected abstract void Release();
}
