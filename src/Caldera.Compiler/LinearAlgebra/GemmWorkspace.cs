using System.Runtime.InteropServices;

namespace Caldera.Compiler.LinearAlgebra;

/// <summary>
/// The packing buffers of <see cref="GemmDriver{T}"/>, kept per calling thread and grown on demand. Freshly
/// mapped pages cost a page fault each, which for small products costs more than the multiply itself.
/// Buffers above <see cref="MaxCachedBytes"/> are not kept, so an occasional huge product does not pin memory.
/// </summary>
internal sealed unsafe class GemmWorkspace : IDisposable
{
    private const long MaxCachedBytes = 64L << 20;
    private const nuint Alignment = 64;

    [ThreadStatic]
    private static GemmWorkspace? cached;

    private void* buffer;
    private long capacity;

    private GemmWorkspace()
    {
    }

    /// <summary>Takes this thread's workspace (or a private one if it is in use) holding at least <paramref name="bytes"/>.</summary>
    public static GemmWorkspace Rent(long bytes)
    {
        GemmWorkspace workspace = cached ?? new GemmWorkspace();
        cached = null;
        if (workspace.capacity < bytes)
        {
            NativeMemory.AlignedFree(workspace.buffer);
            workspace.buffer = NativeMemory.AlignedAlloc((nuint)bytes, Alignment);
            workspace.capacity = bytes;
        }

        return workspace;
    }

    public void* Pointer => buffer;

    /// <summary>Returns the workspace to this thread's cache, or frees it when it is too large to keep.</summary>
    public void Dispose()
    {
        if (capacity > MaxCachedBytes || cached is not null)
        {
            NativeMemory.AlignedFree(buffer);
            buffer = null;
            capacity = 0;
            return;
        }

        cached = this;
    }
}
