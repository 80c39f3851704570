namespace Caldera.Runtime.Formats;

/// <summary>
/// Unmanaged memory that another object keeps valid, such as an embedded resource's
/// <see cref="UnmanagedMemoryStream"/> (the image of the assembly): read in place, the owner released on dispose.
/// </summary>
internal sealed unsafe class UnmanagedBytes(string path, byte* start, long length, IDisposable owner) : ByteSource(path, length, start)
{
    /// <summary>The bytes of <paramref name="stream"/> from its start; <paramref name="stream"/> is owned from now on.</summary>
    public static UnmanagedBytes From(UnmanagedMemoryStream stream, string path)
    {
        stream.Position = 0;
        return new UnmanagedBytes(path, stream.PositionPointer, stream.Length, stream);
    }

    protected override void Release() => owner.Dispose();
}
