namespace Caldera.Tests;

/// <summary>Seeded random inputs, for the compiler and runtime tests.</summary>
internal static class TestData
{
    public static float[] Gaussian(Random random, int count, float sigma = 1f)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = sigma * StandardNormal(random);
        return values;
    }

    public static float StandardNormal(Random random)
    {
        double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
        return (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
    }

    public static double SquaredDistance(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) { double d = (double)a[i] - b[i]; sum += d * d; }
        return sum;
    }
}
