using Caldera.Runtime.Compression;
using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Inference;

/// <summary>
/// A 4-bit L's int8 planes (<see cref="Int8LowRank"/>, 1 byte per entry of L), built from the mapped codes when a decode
/// step first needs them, or ahead of it (<see cref="Transformer.PrepareDecodeInBackground"/>). Not at load: the model
/// binds without them, and a model that only scores long texts (whose batches run L·t in float on the codes) never
/// builds them.
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
