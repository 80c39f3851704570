using System.Runtime.InteropServices;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Tests.Kernels;

public class Int4BlocksTests
{
    /// <summary>
    /// Real embedding shapes (rows × columns): stories260K's and tinystories-256d's, and 301 of the synthetic dim-2048 Llama's
    /// 32000 rows (every row runs the same code).
    /// </summary>
    public static TheoryData<int, int> RealShapes => new() { { 512, 64 }, { 512, 256 }, { 301, 2048 } };

    [Fact]
    public void A_row_decodes_to_its_levels_times_its_block_scale_with_columns_k_and_k_plus_16_sharing_byte_k()
    {
        // Levels and scales written by hand, not by the quantiser: q_i = (i mod 15) − 7 in block 0 (scale 0.5) and
        // 7 − (i mod 15) in block 1 (scale 2), 40 columns so the second block is a partial one.
        const int n = 40;
        var levels = new byte[Int4Blocks.RowBytes(n)];
        var expected = new float[n];
        ushort[] scales = [0x3F00, 0x4000]; // BF16 0.5 and 2
        for (int i = 0; i < n; i++)
        {
            int b = i / 32, k = i % 32;
            int q = b == 0 ? i % 15 - 7 : 7 - i % 15;
            levels[16 * b + k % 16] |= (byte)((q + 8) << (k < 16 ? 0 : 4));
            expected[i] = (b == 0 ? 0.5f : 2f) * q;
        }
        foreach (var path in new[] { KernelPath.Scalar }.Concat(KernelData.VectorPaths))
        {
            var row = new float[n];
            Int4Blocks.DecodeRow(levels, scales, row, path);
            Assert.Equal(expected, row);
        }
    }

    [Fact]
    public void Quantised_rows_round_to_the_nearest_level_and_err_no_more_than_with_the_max_over_7_scale()
    {
        foreach (int n in KernelData.Lengths)
        {
            var row = KernelData.Floats(n, seed: n, scale: 0.3f);
            row[n / 2] = 0; // an exact zero stays zero
            var levels = new byte[Int4Blocks.RowBytes(n)];
            var scales = new ushort[Int4Blocks.BlockCount(n)];
            Int4Blocks.QuantizeRow(row, levels, scales);
            var decoded = new float[n];
            Int4Blocks.DecodeRow(levels, scales, decoded, KernelPath.Scalar);
            for (int b = 0; b < scales.Length; b++)
            {
                var block = row.AsSpan(32 * b, Math.Min(32, n - 32 * b));
                float s = Int4Blocks.Scale(scales[b]);
                if (s == 0)
                {
                    Assert.All(block.ToArray(), w => Assert.Equal(0f, w)); // only an all-zero block has no scale
                    Assert.All(decoded.AsSpan(32 * b, block.Length).ToArray(), v => Assert.Equal(0f, v));
                    continue;
                }
                double error = 0;
                for (int i = 32 * b; i < 32 * b + block.Length; i++)
                {
                    float q = decoded[i] / s;
                    Assert.Equal(MathF.Round(q), q);
                    // The nearest level, unless the weight lies beyond the last one (7·s or −8·s) and was clamped to it.
                    bool clamped = q == 7 && row[i] > 7 * s || q == -8 && row[i] < -8 * s;
                    Assert.True(clamped || MathF.Abs(decoded[i] - row[i]) <= s / 2 * (1 + 1e-6f), $"n={n} weight {i}: {decoded[i]} vs {row[i]}, step {s}");
                    error += ((double)decoded[i] - row[i]) * ((double)decoded[i] - row[i]);
                }
                // The plain scale, max/7 rounded up to a BF16 and no clamping: the search never does worse.
                float max = MathF.Abs(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(block));
                float plain = BitConverter.UInt32BitsToSingle((BitConverter.SingleToUInt32Bits(max / 7) + 0xFFFF) & 0xFFFF0000);
                double plainError = 0;
                foreach (float w in block) plainError += Math.Pow(w - plain * MathF.Round(w / plain), 2);
                Assert.True(error <= plainError * (1 + 1e-5), $"n={n} block {b}: squared error {error} above max/7's {plainError}");
            }
            Assert.Equal(0f, decoded[n / 2]);
        }
    }

    [Fact]
    public void A_block_whose_largest_weight_is_negative_uses_level_minus_8()
    {
        var row = new float[32];
        for (int i = 0; i < 32; i++) row[i] = (i % 16 - 8) / 8f; // −1, −7/8, …, 7/8: exactly the 16 levels of s = 1/8
        var levels = new byte[16];
        var scales = new ushort[1];
        Int4Blocks.QuantizeRow(row, levels, scales);
        Assert.Equal(0.125f, Int4Blocks.Scale(scales[0]));
        var decoded = new float[32];
        Int4Blocks.DecodeRow(levels, scales, decoded);
        Assert.Equal(row, decoded);
    }

    [Fact]
    public void An_all_zero_block_has_scale_zero_and_decodes_to_zeros()
    {
        var row = new float[64];
        row[40] = 1f;
        var levels = new byte[Int4Blocks.RowBytes(64)];
        var scales = new ushort[2];
        Int4Blocks.QuantizeRow(row, levels, scales);
        Assert.Equal(0, scales[0]);
        var decoded = new float[64];
        Int4Blocks.DecodeRow(levels, scales, decoded);
        Assert.All(decoded[..32], v => Assert.Equal(0f, v));
        Assert.True(MathF.Abs(decoded[40] - 1f) <= Int4Blocks.Scale(scales[1]) / 2);
    }

    [Fact]
    public void Every_vector_path_decodes_bit_for_bit_as_the_scalar_path_at_many_lengths()
    {
        foreach (int n in KernelData.Lengths.Concat([95, 96, 97, 4096, 5631]))
            AssertPathsAgree(1, n, seed: n);
    }

    [Theory]
    [MemberData(nameof(RealShapes))]
    public void Every_vector_path_decodes_bit_for_bit_as_the_scalar_path_at_the_real_shapes(int rows, int columns) =>
        AssertPathsAgree(rows, columns, seed: rows + columns);

    [Fact]
    public void A_row_of_the_wrong_size_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => Int4Blocks.DecodeRow(new byte[16], new ushort[1], new float[33]));
        Assert.Contains("a row of 33 entries is stored in 32 level bytes and 2 scales, got 16 and 1", e.Message);
    }

    /// <summary>Quantises a random [rows, columns] matrix and decodes each row on every path.</summary>
    private static unsafe void AssertPathsAgree(int rows, int columns, int seed)
    {
        var (stored, _) = KernelData.Weights(rows * columns, TensorType.F32, seed);
        var matrix = new byte[TensorType.Int4Blocks.ByteLength([rows, columns])];
        fixed (byte* p = stored) Int4Blocks.QuantizeMatrix(new TensorView("w", [rows, columns], TensorType.F32, p), matrix);
        int rowBytes = (int)Int4Blocks.RowBytes(columns), blocks = Int4Blocks.BlockCount(columns);
        var scales = MemoryMarshal.Cast<byte, ushort>(matrix.AsSpan((int)Int4Blocks.MatrixPlaneBytes(rows, columns)));
        var scalar = new float[columns];
        var vector = new float[columns];
        for (int r = 0; r < rows; r++)
        {
            var levels = matrix.AsSpan(r * rowBytes, rowBytes);
            var rowScales = scales.Slice(r * blocks, blocks);
            Int4Blocks.DecodeRow(levels, rowScales, scalar, KernelPath.Scalar);
            foreach (var path in KernelData.VectorPaths)
            {
                Array.Fill(vector, float.NaN);
                Int4Blocks.DecodeRow(levels, rowScales, vector, path);
                Assert.True(scalar.AsSpan().SequenceEqual(vector), $"{rows}×{columns} row {r} {path}");
            }
        }
    }
}
