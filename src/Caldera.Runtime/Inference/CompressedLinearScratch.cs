namespace Caldera.Runtime.Inference;

/// <summary>
/// The transformed inputs U (n × in) and the low-rank products T (n × k) of a compressed matrix's current
/// call. Matrices run one at a time on a worker pool, so every compressed matrix bound to the same pool shares
/// one instance: the buffers (and U's int8 levels, see <see cref="CompressedLinear.Int8Activations"/>) grow to
/// the largest matrix and batch once, and steady-state calls allocate nothing.
/// </summary>
internal sealed class CompressedLinearScratch
{
    private float[] _inputs = [];
    private float[] _factors = [];
    private sbyte[] _levels = [];
    private sbyte[] _coordinateMajorLevels = [];
    private float[] _levelScales = [];
    private float[] _lowRankInputs = [];
    private sbyte[] _lowRankLevels = [];
    private float[] _lowRankScales = [];

    /// <summary>At least <paramref name="length"/> floats for U, valid until the next call.</summary>
    internal float[] Inputs(int length) => Grow(ref _inputs, length);

    /// <summary>At least <paramref name="length"/> floats for T, valid until the next call.</summary>
    internal float[] Factors(int length) => Grow(ref _factors, length);

    /// <summary>At least <paramref name="length"/> int8 levels of u (int8 arithmetic), valid until the next call.</summary>
    internal sbyte[] Levels(int length) => Grow(ref _levels, length);

    /// <summary>At least <paramref name="length"/> int8 levels of u in the batched int8 pass's coordinate-major order, valid until the next call.</summary>
    internal sbyte[] CoordinateMajorLevels(int length) => Grow(ref _coordinateMajorLevels, length);

    /// <summary>At least <paramref name="length"/> block scales of u (int8 arithmetic), valid until the next call.</summary>
    internal float[] LevelScales(int length) => Grow(ref _levelScales, length);

    /// <summary>At least <paramref name="length"/> floats for a = s_L·t of every token (the L·t update), valid until the next call.</summary>
    internal float[] LowRankInputs(int length) => Grow(ref _lowRankInputs, length);

    /// <summary>At least <paramref name="length"/> int8 levels of a (int8 L·t), valid until the next call.</summary>
    internal sbyte[] LowRankLevels(int length) => Grow(ref _lowRankLevels, length);

    /// <summary>At least <paramref name="length"/> scales of a, one per token (int8 L·t of a batch of decode steps), valid until the next call.</summary>
    internal float[] LowRankScales(int length) => Grow(ref _lowRankScales, length);

    private static T[] Grow<T>(ref T[] buffer, int length)
    {
        if (buffer.Length < length) buffer = new T[length];
        return buffer;
    }
}
