using Caldera.Runtime.Compression;
using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Tests.Kernels;

public class ResidualRanksTests
{
    /// <summary>Every path adds k + 1 terms in rank order, each partial sum and each product rounding once: 4ε per term of Σ|term|.</summary>
    private const double RelativeTolerancePerTerm = 1.2e-7 * 4;

    private static readonly int[] Ranks = [1, 3, 64];

    [Fact]
    public void Every_path_is_one_AddResidual_per_rank_on_that_path_bit_for_bit()
    {
        // The generated-kernel differential test relies on this: generated kernels run AddL per rank.
        var random = new Random(21);
        foreach (int n in KernelData.Lengths)
            foreach (int rank in Ranks)
            {
                var (words, stride, a, z0) = Case(random, n, rank);
                foreach (var path in (KernelPath[])[KernelPath.Scalar, .. KernelData.VectorPaths])
                {
                    var expected = (float[])z0.Clone();
                    for (int r = 0; r < rank; r++)
                        CodedRows.AddResidual(words.AsSpan(r * stride, E8PResidualLattice.WordCount(n)), a[r], expected, path);
                    var z = (float[])z0.Clone();
                    ResidualRanks.Add(words, stride, a, z, path);
                    Assert.Equal(expected, z);
                }
            }
    }

    [Fact]
    public void Every_vector_path_is_the_decoded_sum_over_ranks_within_rounding_at_many_lengths()
    {
        var random = new Random(22);
        foreach (int n in KernelData.Lengths)
            foreach (int rank in Ranks)
            {
                var (words, stride, a, z0) = Case(random, n, rank);
                int count = E8PResidualLattice.WordCount(n);
                var sum = Array.ConvertAll(z0, v => (double)v);
                var abs = Array.ConvertAll(z0, v => Math.Abs((double)v));
                var decoded = new float[n];
                for (int r = 0; r < rank; r++)
                {
                    E8PResidualLattice.DecodeRow(words.AsSpan(r * stride, count), decoded);
                    for (int i = 0; i < n; i++)
                    {
                        sum[i] += (double)a[r] * decoded[i];
                        abs[i] += Math.Abs((double)a[r] * decoded[i]);
                    }
                }
                foreach (var path in (KernelPath[])[KernelPath.Scalar, .. KernelData.VectorPaths])
                {
                    var z = (float[])z0.Clone();
                    ResidualRanks.Add(words, stride, a, z, path);
                    for (int i = 0; i < n; i++)
                        Assert.True(Math.Abs(z[i] - sum[i]) <= RelativeTolerancePerTerm * (rank + 1) * abs[i] + 1e-30,
                            $"n={n} rank={rank} {path} i={i}: {z[i]} vs {sum[i]}");
                }
            }
    }

    [Fact]
    public void The_vector_path_reads_only_each_rows_segment()
    {
        // Words outside the k segments are poison: a kernel that strays past a segment or misreads the stride changes z.
        var random = new Random(23);
        const int n = 72, rank = 5;
        var (words, stride, a, z0) = Case(random, n, rank, extraStride: 4);
        int count = E8PResidualLattice.WordCount(n);
        var poisoned = (ushort[])words.Clone();
        for (int r = 0; r < rank; r++)
            for (int j = count; j < stride && r * stride + j < poisoned.Length; j++) poisoned[r * stride + j] = (ushort)~poisoned[r * stride + j];
        foreach (var path in KernelData.VectorPaths)
        {
            var expected = (float[])z0.Clone();
            var z = (float[])z0.Clone();
            ResidualRanks.Add(words, stride, a, expected, path);
            ResidualRanks.Add(poisoned, stride, a, z, path);
            Assert.Equal(expected, z);
        }
    }

    [Fact]
    public void Mismatched_lengths_are_rejected()
    {
        // A stride shorter than one segment, and words that end inside the last rank's segment.
        Assert.Throws<ArgumentException>(() => ResidualRanks.Add(new ushort[64], 5, new float[2], new float[24]));
        Assert.Throws<ArgumentException>(() => ResidualRanks.Add(new ushort[11], 6, new float[2], new float[24]));
        ResidualRanks.Add(new ushort[12], 6, new float[2], new float[24]);
    }

    /// <summary>k rows of residual words with a stride longer than the segment (as Lᵀ rows are), coefficients of both signs.</summary>
    private static (ushort[] Words, int Stride, float[] A, float[] Z) Case(Random random, int n, int rank, int? extraStride = null)
    {
        int stride = E8PResidualLattice.WordCount(n) + (extraStride ?? 2 * random.Next(0, 3));
        var words = new ushort[(rank - 1) * stride + E8PResidualLattice.WordCount(n)];
        for (int i = 0; i < words.Length; i++) words[i] = (ushort)random.Next(1 << 16);
        var a = new float[rank];
        for (int r = 0; r < rank; r++) a[r] = (random.NextSingle() - 0.5f) * 0.2f;
        return (words, stride, a, KernelData.Floats(n, n + rank));
    }
}
