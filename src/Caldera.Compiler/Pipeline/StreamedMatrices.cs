using System.Collections;
using Caldera.Runtime.Compression;

namespace Caldera.Compiler.Pipeline;

/// <summary>
/// The compressed matrices of a model's parts (its blocks, then a compressed classifier) read back from the
/// <see cref="LayerCache"/> on demand, one part at a time: writing the model then holds one block's matrices instead of
/// all of them (about 2 GiB for an 8B model at 2.3 bits per block weight).
/// </summary>
/// <remarks>
/// Only the part read last is held, so a walk over the matrices in order (what the <c>.cald</c> writer, its checks and
/// the summaries do) reads each part file once. The files are the ones this compression wrote or checked: one that has
/// since been removed, truncated or rewritten with other settings is an I/O error naming it. Not thread-safe.
/// </remarks>
internal sealed class StreamedMatrices : IReadOnlyList<CompressedLinearData>
{
    private readonly LayerCache _cache;

    /// <summary>The index of each part's first matrix, and last the count of all.</summary>
    private readonly int[] _starts;

    private int _part = -1;
    private IReadOnlyList<CompressedLinearData> _matrices = [];

    /// <param name="counts">The matrices of each part, in part order (7 for a block, 1 for the classifier).</param>
    public StreamedMatrices(LayerCache cache, IReadOnlyList<int> counts)
    {
        _cache = cache;
        _starts = new int[counts.Count + 1];
        for (int p = 0; p < counts.Count; p++)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(counts[p], 1, nameof(counts));
            _starts[p + 1] = _starts[p] + counts[p];
        }
    }

    public int Count => _starts[^1];

    public CompressedLinearData this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            int part = Array.BinarySearch(_starts, index);
            if (part < 0) part = ~part - 1;
            if (part != _part) Load(part);
            return _matrices[index - _starts[part]];
        }
    }

    public IEnumerator<CompressedLinearData> GetEnumerator()
    {
        for (int i = 0; i < Count; i++) yield return this[i];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private void Load(int part)
    {
        // The part held before is dropped first, so two parts are never held together.
        _matrices = [];
        _part = -1;
        string path = _cache.PathOf(part);
        var matrices = _cache.TryLoad(part, out string? rejection)
            ?? throw new IOException($"{rejection ?? $"{path}: not found"}; this compression wrote it and it changed before the model was written");
        int expected = _starts[part + 1] - _starts[part];
        if (matrices.Count != expected)
            throw new IOException($"{path}: holds {matrices.Count} matrices, not {expected}; this compression wrote it and it changed before the model was written");
        _matrices = matrices;
        _part = part;
    }
}
