using Caldera.Runtime.Compression;
using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Inference;

/// <summary>
/// A 4-bit L's int8 planes (<see cref="Int8LowRank"/>, 1 byte per entry of L), built from the mapped codes when a decode
/// step first needs them. Not at load: a prompt's pass (prefill) runs L·t in float on the codes themselves, so the first
/// token of a generation never waits for them, and a model that only scores text never builds them.
/// </summary>
internal sealed class LowRankPlanes(CompressedLinearData data)
{
    private byte[]? _planes;

    /// <summary>
    /// The planes; the first call builds them (a racing second call may build them too, and both get the first stored:
    /// they are equal). Read on every decode step, so without allocating (no delegate).
    /// </summary>
    public byte[] Planes => Volatile.Read(ref _planes) ?? Build();

    private byte[] Build()
    {
        var planes = new byte[Int8LowRank.PlaneLength(data.Rows, data.Rank)];
        Int8LowRank.Build(data.LTransposedCodes.Span, data.Rows, data.Rank, planes);
        return Interlocked.CompareExchange(ref _planes, planes, null) ?? planes;
    }
}
