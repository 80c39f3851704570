namespace Caldera.Runtime.Incoherence;

/// <summary>
/// A seeded random K×K orthogonal matrix: Gram–Schmidt (modified, applied twice for full float accuracy)
/// on the rows of a Gaussian matrix, in double. Orthonormalising a Gaussian this way is the QR route to a
/// Haar-distributed orthogonal matrix, whose entries are spread like ±1/√K with high probability.
/// </summary>
internal static class RandomOrthogonal
{
    /// <summary>Row-major K×K with orthonormal rows (and so orthonormal columns).</summary>
    public static float[] Create(int order, SeededRandom random)
    {
        var q = new double[order * order];
        for (int i = 0; i < q.Length; i++) q[i] = random.NextGaussian();
        for (int row = 0; row < order; row++)
        {
            Span<double> v = q.AsSpan(row * order, order);
            for (int pass = 0; pass < 2; pass++)
                for (int previous = 0; previous < row; previous++)
                {
                    ReadOnlySpan<double> e = q.AsSpan(previous * order, order);
                    double projection = 0;
                    for (int i = 0; i < order; i++) projection += v[i] * e[i];
                    for (int i = 0; i < order; i++) v[i] -= projection * e[i];
                }
            double norm = 0;
            foreach (double value in v) norm += value * value;
            norm = Math.Sqrt(norm); // > 0 with probability one for a Gaussian draw
            for (int i = 0; i < order; i++) v[i] /= norm;
        }
        var result = new float[q.Length];
        for (int i = 0; i < q.Length; i++) result[i] = (float)q[i];
        return result;
    }
}
