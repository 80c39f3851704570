using Caldera.Runtime.Inference;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Tests.Kernels;

namespace Caldera.Runtime.Tests.Inference;

/// <summary>
/// <see cref="AttentionWork.Attend"/>, the one attention every inference path runs: against a float64 reference of
/// softmax(q·kᵀ/√d)·v written here, and, bit for bit, against itself one head at a time (the four-head tiles must not
/// change a score or a sum).
/// </summary>
public class AttentionTests
{
    /// <summary>float32 sums of at most 97 products of order-one values, a softmax, and a float32 weighted sum: 1e-5 relative to the largest output.</summary>
    private const double Tolerance = 1e-5;

    public static TheoryData<string> Paths() => new(new[] { KernelPath.Scalar }.Concat(KernelData.VectorPaths).Select(p => p.ToString()));

    // (query heads per KV head, head width, positions): Llama's group of four at 64 wide, a group of seven (Qwen2 0.5B:
    // a tile and three heads alone), plain multi-head attention (group of one, stories260K's width 8), position counts
    // off the tile of four and past the 16 lanes.
    private static readonly (int Group, int HeadDim, int Positions)[] Shapes =
        [(4, 64, 1), (4, 64, 3), (4, 64, 4), (4, 64, 65), (7, 64, 13), (1, 8, 9), (2, 48, 33), (8, 17, 6)];

    [Theory]
    [MemberData(nameof(Paths))]
    public void Grouped_attention_matches_a_float64_reference(string pathName)
    {
        var path = Enum.Parse<KernelPath>(pathName);
        foreach (var (group, headDim, positions) in Shapes)
        {
            const int kvHeads = 3, kvHead = 1; // the KV head's slice sits inside each cached row, not at its start
            int kvDim = kvHeads * headDim, kvOffset = kvHead * headDim;
            var q = KernelData.Floats(group * headDim, seed: group * 100 + headDim, scale: 2);
            var keys = KernelData.Floats(positions * kvDim, seed: positions, scale: 2);
            var values = KernelData.Floats(positions * kvDim, seed: positions + 7);
            float scale = 1f / MathF.Sqrt(headDim);
            var output = new float[group * headDim];
            AttentionWork.Attend(q, keys, values, kvDim, kvOffset, headDim, new float[group * positions], scale, output, path);

            double largest = 0;
            var expected = new double[group * headDim];
            for (int h = 0; h < group; h++)
            {
                var scores = new double[positions];
                for (int p = 0; p < positions; p++)
                {
                    double dot = 0;
                    for (int i = 0; i < headDim; i++) dot += (double)q[h * headDim + i] * keys[p * kvDim + kvOffset + i];
                    scores[p] = dot * scale;
                }
                double max = scores.Max(), sum = scores.Sum(s => Math.Exp(s - max));
                for (int i = 0; i < headDim; i++)
                {
                    double o = 0;
                    for (int p = 0; p < positions; p++) o += Math.Exp(scores[p] - max) / sum * values[p * kvDim + kvOffset + i];
                    expected[h * headDim + i] = o;
                    largest = Math.Max(largest, Math.Abs(o));
                }
            }
            for (int j = 0; j < output.Length; j++)
                Assert.True(Math.Abs(output[j] - expected[j]) <= Tolerance * largest,
                    $"{path}, group {group}, head width {headDim}, {positions} positions: output {j} is {output[j]}, float64 gives {expected[j]}");
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void A_group_gives_each_head_the_bits_it_gets_alone(string pathName)
    {
        var path = Enum.Parse<KernelPath>(pathName);
        foreach (var (group, headDim, positions) in Shapes)
        {
            int kvDim = 2 * headDim;
            var q = KernelData.Floats(group * headDim, seed: 3 * group + headDim, scale: 2);
            var keys = KernelData.Floats(positions * kvDim, seed: 11 * positions, scale: 2);
            var values = KernelData.Floats(positions * kvDim, seed: 13 * positions);
            float scale = 1f / MathF.Sqrt(headDim);
            var together = new float[group * headDim];
            AttentionWork.Attend(q, keys, values, kvDim, headDim, headDim, new float[group * positions], scale, together, path);
            for (int h = 0; h < group; h++)
            {
                var alone = new float[headDim];
                AttentionWork.Attend(q.AsSpan(h * headDim, headDim), keys, values, kvDim, headDim, headDim, new float[positions], scale, alone, path);
                Assert.Equal(alone, together.AsSpan(h * headDim, headDim).ToArray());
            }
        }
    }

    [Fact]
    public void Buffers_that_do_not_fit_the_shape_are_refused()
    {
        var q = new float[4 * 8];
        var ex = Assert.Throws<ArgumentException>(() =>
            AttentionWork.Attend(q, new float[3 * 16], new float[3 * 16], 16, 8, 8, new float[4 * 4], 1, new float[4 * 8], KernelPath.Scalar));
        Assert.Contains("does not fit", ex.Message);
    }
}
