namespace Caldera.Compiler.LinearAlgebra;

/// <summary>
/// Seeded N(0, 1) samples that are identical on every machine and runtime version: SplitMix64 for uniform bits,
/// Box–Muller for the normal transform. Used for sketches (randomized SVD).
/// </summary>
internal sealed class GaussianRandom(ulong seed)
{
    private ulong state = seed;
    private double spare = double.NaN;

    public double Next()
    {
        if (!double.IsNaN(spare))
        {
            double cached = spare;
            spare = double.NaN;
            return cached;
        }

        // u1 ∈ (0, 1] keeps the logarithm finite.
        double u1 = (NextBits() >> 11) * (1.0 / (1UL << 53));
        u1 = 1.0 - u1;
        double u2 = (NextBits() >> 11) * (1.0 / (1UL << 53));
        double radius = Math.Sqrt(-2.0 * Math.Log(u1));
        spare = radius * Math.Sin(2 * Math.PI * u2);
        return radius * Math.Cos(2 * Math.PI * u2);
    }

    public Matrix<double> NextMatrix(int rows, int cols)
    {
        var m = new Matrix<double>(rows, cols);
        for (int i = 0; i < m.Data.Length; i++)
        {
            m.Data[i] = Next();
        }

        return m;
    }

    private ulong NextBits()
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
