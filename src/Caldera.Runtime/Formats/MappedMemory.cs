using System.Buffers;

namespace Caldera.Runtime.Formats;

/// <summary>
/// A <see cref="Memory{T}"/> over unmanaged memory of a <see cref="ByteSource"/>, so that readers can hand out
/// zero-copy arrays of code words and halves. Valid while the source lives; pinning is a no-op.
/// </summary>
internal sealed unsafe class MappedMemory<T>(byte* pointer, int length) : MemoryManager<T> where T : unmanaged
{
    public override Span<T> GetSpan() => new(pointer, length);

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(elementIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(elementIndex, length);
        return new MemoryHandle((T*)pointer + elementIndex);
    }

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
    }
}
