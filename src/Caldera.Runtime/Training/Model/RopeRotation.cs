using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Training.Model;

/// <summary>
/// RoPE on one token's heads with a <see cref="RopeTable"/> (either pairing, llama3 scaling already in its angles), and
/// its transpose for the backward pass. The rotation of pair (a, b) by θ is (a·cos θ − b·sin θ, b·cos θ + a·sin θ); its
/// transpose is the rotation by −θ. The table holds cos and ±sin per element, so both are
/// x'_i = x_i·cos_i ± partner(x)_i·sin±_i.
/// </summary>
internal static class RopeRotation
{
    public static void Apply(Span<float> x, RopeTable table, int position) => Rotate(x, table, position, 1f);

    public static void ApplyTranspose(Span<float> x, RopeTable table, int position) => Rotate(x, table, position, -1f);

    private static void Rotate(Span<float> x, RopeTable table, int position, float direction)
    {
        int d = table.HeadDim, half = d / 2;
        var cos = table.Cos(position);
        var sin = table.SignedSin(position);
        bool interleaved = table.Pairing == Runtime.Model.RopePairing.Interleaved;
        for (int head = 0; head < x.Length; head += d)
            for (int p = 0; p < half; p++)
            {
                (int i, int j) = interleaved ? (2 * p, 2 * p + 1) : (p, p + half);
                float a = x[head + i], b = x[head + j];
                x[head + i] = a * cos[i] + direction * b * sin[i];
                x[head + j] = b * cos[j] + direction * a * sin[j];
            }
    }
}
