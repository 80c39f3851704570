namespace Caldera.Runtime.Training.Reference;

/// <summary>An RMSNorm gain in float64 with its gradient dL/dg, which <see cref="ReferenceModel"/>'s backward always accumulates.</summary>
internal sealed class ReferenceGain(string name, double[] values)
{
    public string Name { get; } = name;
    public double[] Values { get; } = values;
    public double[] Gradient { get; } = new double[values.Length];
}
