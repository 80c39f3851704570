using System.Numerics;
using Caldera.Runtime.Incoherence;

namespace Caldera.Runtime.Tests.Incoherence;

public class HadamardTransformTests
{
    /// <summary>Float sums over K + log₂P terms of magnitude ≤ 1/√n: errors stay near 1e-7.</summary>
    private const double EntryTolerance = 1e-6;

    [Theory]
    [InlineData(1, 1, true)]
    [InlineData(64, 1, true)]
    [InlineData(4096, 1, true)]
    [InlineData(96, 12, true)]
    [InlineData(5120, 20, true)]
    [InlineData(5632, 44, true)]
    [InlineData(13824, 108, true)]
    [InlineData(14336, 28, true)]
    [InlineData(688, 344, true)]
    [InlineData(11008, 344, true)] // 172 = 4·43 and 86 have no construction here; 344 = 7³ + 1 does
    [InlineData(172, 43, false)]   // stories260K's FFN width: 43·4 with no Hadamard of order 172
    [InlineData(7, 7, false)]
    [InlineData(45, 45, false)]
    public void Factorization_picks_the_smallest_Hadamard_block_else_the_odd_part(int n, int block, bool isHadamard)
    {
        HadamardTransform u = HadamardTransform.Create(n, seed: 42);
        Assert.Equal(block, u.BlockOrder);
        Assert.Equal(n / block, u.WalshLength);
        Assert.Equal(isHadamard, u.IsHadamard);
        if (isHadamard)
            Assert.All(u.Block.ToArray(), v => Assert.Equal(1 / Math.Sqrt(block), Math.Abs(v), EntryTolerance));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(12)]
    [InlineData(24)]
    [InlineData(40)]
    [InlineData(52)]
    [InlineData(96)]
    [InlineData(86)]
    [InlineData(172)]
    [InlineData(7)]
    public void Fast_transform_equals_the_dense_Kronecker_product_built_column_by_column(int n)
    {
        HadamardTransform u = HadamardTransform.Create(n, seed: 7);
        int k = u.BlockOrder, p = u.WalshLength;
        float[] dense = DenseByColumns(u, transpose: false);
        float[] denseTransposed = DenseByColumns(u, transpose: true);
        ReadOnlySpan<float> a = u.Block;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                int sylvester = BitOperations.PopCount((uint)(i % p & j % p)) % 2 == 0 ? 1 : -1;
                double expected = a[i / p * k + j / p] * sylvester / Math.Sqrt(p);
                Assert.Equal(expected, dense[i * n + j], EntryTolerance);
                Assert.Equal(expected, denseTransposed[j * n + i], EntryTolerance);
            }
        if (u.IsHadamard)
            Assert.All(dense, v => Assert.Equal(1 / Math.Sqrt(n), Math.Abs(v), EntryTolerance));
    }

    [Fact]
    public void Odd_parts_beyond_the_fallback_limit_are_rejected_with_the_fix()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => HadamardTransform.Create(4099, seed: 1));
        Assert.Contains("Pad the dimension", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => HadamardTransform.Create(0, seed: 1));
        Assert.Throws<ArgumentException>(() => HadamardTransform.Create(64, seed: 1).Apply(new float[63], new float[63]));
    }

    /// <summary>Row-major n×n matrix whose column j is U·eⱼ (or Uᵀ·eⱼ).</summary>
    internal static float[] DenseByColumns(HadamardTransform u, bool transpose)
    {
        int n = u.Length;
        var dense = new float[n * n];
        var e = new float[n];
        var column = new float[n];
        for (int j = 0; j < n; j++)
        {
            Array.Clear(e);
            e[j] = 1;
            if (transpose) u.ApplyTranspose(e, column);
            else u.Apply(e, column);
            for (int i = 0; i < n; i++) dense[i * n + j] = column[i];
        }
        return dense;
    }
}
