namespace Caldera.Runtime.Inference;

/// <summary>
/// The transformed inputs U (n × in) and the low-rank products T (n × k) of a compressed layer's current
/// call. Layers run one at a time on a worker pool, so every compressed layer bound to the same pool shares
/// one instance: the buffers grow to the largest layer and batch once, and steady-state calls allocate nothing.
/// </summary>
public sealed class CompressedLayerScratch
{
    private float[] _inputs = [];
    private float[] _factors = [];

    /// <summary>At least <paramref name="length"/> floats for U, valid until the next call.</summary>
    internal float[] Inputs(int length) => Grow(ref _inputs, length);

    /// <summary>At least <paramref name="length"/> floats for T, valid until the next call.</summary>
    internal float[] Factors(int length) => Grow(ref _factors, length);

    private static float[] Grow(ref float[] buffer, int length)
    {
        if (buffer.Length < length) buffer = new float[length];
        return buffer;
    }
}
