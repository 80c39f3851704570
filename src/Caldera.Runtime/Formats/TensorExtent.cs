namespace Caldera.Runtime.Formats;

/// <summary>
/// The bytes [<see cref="Begin"/>, <see cref="End"/>) a tensor occupies in its file. Readers collect one per
/// tensor so that overlapping tensors (a corrupt or hand-edited file) are reported instead of silently
/// aliasing two weights.
/// </summary>
internal readonly record struct TensorExtent(string Name, long Begin, long End)
{
    /// <summary>Throws naming both tensors when any two extents share a byte.</summary>
    public static void CheckDisjoint(string path, List<TensorExtent> extents)
    {
        extents.Sort(static (a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        // Sorted by start, a tensor overlaps an earlier one exactly when it starts before the furthest end so far.
        for (int i = 1, furthest = 0; i < extents.Count; i++)
        {
            var (previous, current) = (extents[furthest], extents[i]);
            if (current.Begin < previous.End && current.End > current.Begin)
                throw ModelFormatException.ForTensor(path, current.Name,
                    $"bytes {current.Begin}..{current.End} overlap tensor '{previous.Name}' at {previous.Begin}..{previous.End} (corrupt offsets)");
            if (current.End > previous.End) furthest = i;
        }
    }

    /// <summary>
    /// The byte size of a tensor of <paramref name="shape"/> with <paramref name="elementSize"/>-byte elements,
    /// or an error when it exceeds <paramref name="limit"/> (the bytes available). Checked dim by dim so a
    /// hostile shape cannot overflow 64 bits into a small number.
    /// </summary>
    public static long ByteSize(string path, string name, long[] shape, int elementSize, long limit)
    {
        long bytes = elementSize;
        foreach (long d in shape)
        {
            if (d < 0 || (d > 0 && bytes > limit / d))
                throw ModelFormatException.ForTensor(path, name,
                    $"shape [{string.Join(", ", shape)}] needs more bytes than the {limit} available (corrupt header)");
            bytes *= d;
        }
        return bytes;
    }
}
