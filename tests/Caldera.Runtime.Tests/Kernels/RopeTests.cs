using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Tests.Kernels;

public class RopeTests
{
    /// <summary>Table angles are float (as in llama2.c); vs a double rotation at position ≤ 300 that costs a few 1e-5 on unit-sized values.</summary>
    private const double AngleTolerance = 1e-4;

    public static TheoryData<string, string> PairingsAndPaths()
    {
        var data = new TheoryData<string, string>();
        foreach (var pairing in new[] { RopePairing.Interleaved, RopePairing.RotateHalf })
            foreach (var path in (KernelPath[])[KernelPath.Scalar, .. KernelData.VectorPaths])
                data.Add(pairing.ToString(), path.ToString());
        return data;
    }

    [Fact]
    public void Rows_are_the_same_whichever_positions_are_asked_for_first_and_from_however_many_threads()
    {
        const int positions = 5000, headDim = 64;
        var inOrder = new RopeTable(headDim, positions, 500000f, null, RopePairing.RotateHalf);
        var lastFirst = new RopeTable(headDim, positions, 500000f, null, RopePairing.RotateHalf);
        var concurrent = new RopeTable(headDim, positions, 500000f, null, RopePairing.RotateHalf);
        _ = lastFirst.Cos(positions - 1);
        Parallel.For(0, 64, worker =>
        {
            var random = new Random(worker);
            for (int i = 0; i < 200; i++)
            {
                int pos = random.Next(positions);
                // Pair 0 turns by one radian per position: its row is whole whenever it is read, also while another thread grows the table.
                Assert.Equal(MathF.Cos(pos), concurrent.Cos(pos)[0]);
                Assert.Equal(MathF.Sin(pos), concurrent.SignedSin(pos)[headDim / 2]);
            }
        });
        for (int pos = 0; pos < positions; pos++)
        {
            var cos = inOrder.Cos(pos).ToArray();
            var sin = inOrder.SignedSin(pos).ToArray();
            Assert.Equal(cos, lastFirst.Cos(pos).ToArray());
            Assert.Equal(sin, lastFirst.SignedSin(pos).ToArray());
            Assert.Equal(cos, concurrent.Cos(pos).ToArray());
            Assert.Equal(sin, concurrent.SignedSin(pos).ToArray());
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => inOrder.Cos(positions));
        Assert.Throws<ArgumentOutOfRangeException>(() => inOrder.SignedSin(-1));
    }

    [Theory]
    [MemberData(nameof(PairingsAndPaths))]
    public void Rotates_each_pair_by_position_times_frequency(string pairingName, string pathName)
    {
        var pairing = Enum.Parse<RopePairing>(pairingName);
        var path = Enum.Parse<KernelPath>(pathName);
        foreach (int headDim in new[] { 2, 4, 8, 16, 32, 64, 128 })
            foreach (int heads in new[] { 1, 3 })
            {
                var table = new RopeTable(headDim, 301, 10000f, null, pairing);
                foreach (int pos in new[] { 0, 1, 17, 300 })
                {
                    var x = KernelData.Floats(heads * headDim, seed: headDim + pos);
                    var expected = Rotate(x, headDim, pos, pairing);
                    Rope.Apply(x, table, pos, path);
                    for (int i = 0; i < x.Length; i++)
                        Assert.True(Math.Abs(expected[i] - x[i]) <= AngleTolerance, $"{pairing} {path} d={headDim} pos={pos} [{i}]: {expected[i]} vs {x[i]}");
                }
            }
    }

    [Fact]
    public void Llama3_scaling_matches_hand_computed_frequencies()
    {
        // Llama 3.1: θ = 500000, d = 128, factor 8, low 1, high 4, original context 8192.
        var scaling = new RopeScaling(8f, 1f, 4f, 8192);
        // Pair 0: ω = 1, wavelength 2π < 8192/4 → kept.
        Assert.Equal(1f, RopeTable.Frequency(0, 128, 500000f, scaling));
        // Pair 32: ω = 500000^(−1/2) = 1.41421356e-3, wavelength 2π/ω = 4442.88 between 2048 and 8192 →
        // smooth = (8192/4442.88 − 1)/(4 − 1) = 0.2812826, ω' = (1 − smooth)·ω/8 + smooth·ω = 5.2484616e-4.
        Assert.Equal(5.2484616e-4, RopeTable.Frequency(32, 128, 500000f, scaling), 1e-9);
        // Pair 63: ω = 500000^(−126/128) = 2.4551408e-6, wavelength ≫ 8192 → ω/8 = 3.0689260e-7.
        Assert.Equal(3.0689260e-7, RopeTable.Frequency(63, 128, 500000f, scaling), 1e-12);

        var table = new RopeTable(128, 1001, 500000f, scaling, RopePairing.RotateHalf);
        Assert.Equal(Math.Cos(1000 * 5.2484616e-4), table.Cos(1000)[32], 1e-5);
        Assert.Equal(-Math.Sin(1000 * 5.2484616e-4), table.SignedSin(1000)[32], 1e-5);
        Assert.Equal(Math.Sin(1000 * 5.2484616e-4), table.SignedSin(1000)[32 + 64], 1e-5);
    }

    [Fact]
    public void Positions_outside_the_table_are_rejected()
    {
        var table = new RopeTable(8, 4, 10000f, null, RopePairing.Interleaved);
        Assert.Throws<ArgumentOutOfRangeException>(() => Rope.Apply(new float[8], table, 4));
        Assert.Throws<ArgumentException>(() => Rope.Apply(new float[6], table, 0));
    }

    /// <summary>The definition in double: pair p = (2p, 2p+1) or (p, p + d/2) turns by pos·10000^(−2p/d).</summary>
    private static double[] Rotate(float[] x, int d, int pos, RopePairing pairing)
    {
        var y = Array.ConvertAll(x, v => (double)v);
        for (int head = 0; head < x.Length / d; head++)
            for (int p = 0; p < d / 2; p++)
            {
                double angle = pos * Math.Pow(10000, -2.0 * p / d);
                (int i, int j) = pairing == RopePairing.Interleaved ? (2 * p, 2 * p + 1) : (p, p + d / 2);
                double a = x[head * d + i], b = x[head * d + j];
                y[head * d + i] = a * Math.Cos(angle) - b * Math.Sin(angle);
                y[head * d + j] = a * Math.Sin(angle) + b * Math.Cos(angle);
            }
        return y;
    }
}
