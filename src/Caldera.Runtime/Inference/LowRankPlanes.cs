using Caldera.Runtime.Compression;
using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Inference;

/// <summary>
/// A 4-bit L's int8 planes (<see cref="Int8LowRank"/>, 1 byte per entry of L), built from the mapped codes by the first
/// int8 pass that needs them (a decode step or a prompt's batch), or ahead of it on a pool thread
/// (<see cref="Transformer.PrepareDecodeInBackground"/>); the model binds without them.
/// </summary>
internal sealed class LowRankPlanes(CompressedLinearData data)
{
    private byte[]? _planes;
    private readonly Lock _building = new();

    /// <summary>The planes, built by the first caller; read on every decode step, so without allocating once built.</summary>
    public byte[] Planes => Volatile.Read(ref _planes) ?? Build();

    /// <summary>Builds the planes unless they are built; a second caller meanwhile waits for the first one's instead of building its own.</summary>
    public byte[] Build()
    {
        lock (_building)
        {
            if (_planes is { } built) return built;
            var planes = new byte[Int8LowRank.PlaneLength(data.Rows, data.Rank)];
            Int8LowRank.Build(data.LTransposedCodes.Span, data.Rows, data.Rank, planes);
            Volatile.Write(ref _planes, planes);
            return planes;
        }
    }
}
