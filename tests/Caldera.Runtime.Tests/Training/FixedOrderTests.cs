using Caldera.Runtime.Kernels;
using Caldera.Runtime.Tests.Kernels;
using Caldera.Runtime.Training.Arithmetic;

namespace Caldera.Runtime.Tests.Training;

/// <summary>
/// Training's sums depend only on the values: every vector path of every kernel equals, bit for bit, the scalar loop
/// that defines the order (sixteen lanes of fused multiply-adds, one fixed tree, the tail last), at the lengths training
/// runs (head 64, rank 16, dim 2048, FFN 5632) and at odd ones.
/// </summary>
public class FixedOrderTests
{
    private static readonly int[] Lengths = [1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 172, 512, 2048, 5632];

    private static readonly KernelPath[] Paths = [KernelPath.Scalar, .. KernelData.VectorPaths];

    [Fact]
    public void Dot_products_equal_the_sixteen_lane_loop_bit_for_bit()
    {
        var random = new Random(17);
        foreach (var path in Paths)
        foreach (int n in Lengths)
        {
            float[] a = Vector(random, n), b = Vector(random, n);
            Assert.True(DefiningDot(a, b) == FixedOrder.Dot(a, b, path), $"{path}, n = {n}");
        }
    }

    [Fact]
    public void Four_by_four_tiles_are_each_bit_for_bit_the_lone_dot_product()
    {
        var random = new Random(19);
        var dots = new float[16];
        foreach (var path in Paths)
        foreach (int n in Lengths)
        {
            float[] rows = Vector(random, 4 * n), tokens = Vector(random, 4 * n);
            FixedOrder.Dots4x4(rows, tokens, n, dots, path);
            for (int r = 0; r < 4; r++)
                for (int t = 0; t < 4; t++)
                    Assert.True(DefiningDot(rows.AsSpan(r * n, n), tokens.AsSpan(t * n, n)) == dots[4 * r + t], $"{path}, n = {n}, row {r}, token {t}");
        }
    }

    [Fact]
    public void Strided_tiles_of_four_and_six_rows_are_each_bit_for_bit_the_lone_dot_product()
    {
        var random = new Random(47);
        var dots = new float[24];
        foreach (var path in Paths)
        foreach (int n in Lengths)
        {
            // Rows and tokens further apart than they are long, as attention's heads within a token are.
            int rowStride = n + 3, tokenStride = 2 * n + 1;
            float[] rows = Vector(random, 6 * rowStride), tokens = Vector(random, 4 * tokenStride);
            foreach (int tileRows in new[] { 4, 6 })
            {
                Array.Clear(dots);
                if (tileRows == 4) FixedOrder.Dots4x4(rows, rowStride, tokens, tokenStride, n, dots, path);
                else FixedOrder.Dots6x4(rows, rowStride, tokens, tokenStride, n, dots, path);
                for (int r = 0; r < tileRows; r++)
                    for (int t = 0; t < 4; t++)
                        Assert.True(DefiningDot(rows.AsSpan(r * rowStride, n), tokens.AsSpan(t * tokenStride, n)) == dots[4 * r + t],
                            $"{path}, {tileRows}×4, n = {n}, row {r}, token {t}");
            }
        }
    }

    [Fact]
    public void Scaled_additions_are_one_fused_multiply_add_per_element()
    {
        var random = new Random(23);
        foreach (var path in Paths)
        foreach (int n in Lengths)
        {
            float[] x = Vector(random, n), y = Vector(random, n);
            float s = (float)random.NextDouble() - 0.5f;
            var expected = y.Select((value, i) => MathF.FusedMultiplyAdd(s, x[i], value)).ToArray();
            FixedOrder.AddScaled(y, s, x, path);
            Assert.True(expected.AsSpan().SequenceEqual(y), $"{path}, n = {n}");
        }
    }

    [Fact]
    public void A_tile_too_short_for_its_length_is_refused() =>
        Assert.Throws<ArgumentException>(() => FixedOrder.Dots4x4(new float[32], new float[31], 8, new float[16]));

    /// <summary>
    /// The order as a plain loop, written apart from the kernels: lane j = Σ over i ≡ j (mod 16) by fused multiply-adds in
    /// index order, h_j = l_j + l_(j+8), q_j = h_j + h_(j+4), (q0 + q2) + (q1 + q3), then the tail, fused, in order.
    /// </summary>
    internal static float DefiningDot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var lanes = new float[16];
        int body = a.Length / 16 * 16;
        for (int i = 0; i < body; i++) lanes[i % 16] = MathF.FusedMultiplyAdd(a[i], b[i], lanes[i % 16]);
        var h = new float[8];
        for (int j = 0; j < 8; j++) h[j] = lanes[j] + lanes[j + 8];
        var q = new float[4];
        for (int j = 0; j < 4; j++) q[j] = h[j] + h[j + 4];
        float sum = (q[0] + q[2]) + (q[1] + q[3]);
        for (int i = body; i < a.Length; i++) sum = MathF.FusedMultiplyAdd(a[i], b[i], sum);
        return sum;
    }

    // Values of mixed magnitudes, so that the order of the additions shows in the low bits.
    internal static float[] Vector(Random random, int n) =>
        [.. Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-3, 4))))];
}
