using System.Runtime.Intrinsics.X86;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Tests.Kernels;

public class Int8LowRankTests
{
    /// <summary>The float combination ¼·s·(A + B/ρ) and the add to z: a few roundings of terms of size |z| + |update|.</summary>
    private const double CombineRelativeTolerance = 1.2e-7 * 8;

    private static readonly int[] Rows = [1, 7, 8, 9, 64, 172, 2048];
    private static readonly int[] Ranks = [1, 3, 4, 16, 64, 256]; // 256: the one-scale limit, past the portable path's int16 run of 16 quads

    [Fact]
    public void The_scalar_path_is_the_decoded_columns_of_L_times_the_dequantised_a()
    {
        var random = new Random(41);
        foreach (int rows in Rows)
            foreach (int rank in Ranks)
            {
                var (words, planes, alpha, scale, z0) = Case(random, rows, rank);
                var z = (float[])z0.Clone();
                Int8LowRank.Add(planes, 0, alpha, scale, z, Int8CodedRows.Path.Scalar);
                int rowWords = E8PResidualLattice.WordCount(rows);
                var column = new float[rows];
                var exact = z0.Select(v => (double)v).ToArray();
                var magnitude = z0.Select(v => Math.Abs((double)v)).ToArray();
                for (int r = 0; r < rank; r++)
                {
                    E8PResidualLattice.DecodeRow(words.AsSpan(r * rowWords, rowWords), column);
                    for (int i = 0; i < rows; i++)
                    {
                        double term = (double)scale * alpha[r] * column[i];
                        exact[i] += term;
                        magnitude[i] += Math.Abs(term);
                    }
                }
                for (int i = 0; i < rows; i++)
                    Assert.True(Math.Abs(z[i] - exact[i]) <= CombineRelativeTolerance * magnitude[i] + 1e-30, $"{rows}×{rank} row {i}: {z[i]} vs {exact[i]}");
            }
    }

    public static TheoryData<string> VectorPaths() => new(KernelData.Int8VectorPaths.Select(p => p.ToString()));

    [Theory]
    [MemberData(nameof(VectorPaths))]
    public void Every_vector_path_equals_the_scalar_path_bit_for_bit_on_every_slice_of_rows(string pathName)
    {
        var path = Enum.Parse<Int8CodedRows.Path>(pathName);
        var random = new Random(42);
        foreach (int rows in Rows)
            foreach (int rank in Ranks)
            {
                var (_, planes, alpha, scale, z0) = Case(random, rows, rank);
                // Slices starting at every group a chunk of the matrix's rows can start at, to the end of L.
                for (int first = 0; first * 8 < rows; first += Math.Max(1, rows / 8 / 3))
                {
                    var expected = z0[(first * 8)..];
                    var actual = (float[])expected.Clone();
                    Int8LowRank.Add(planes, first, alpha, scale, expected, Int8CodedRows.Path.Scalar);
                    Int8LowRank.Add(planes, first, alpha, scale, actual, path);
                    Assert.True(expected.AsSpan().SequenceEqual(actual), $"{rows}×{rank} from group {first}");
                }
            }
    }

    [Fact]
    public void The_int8_update_is_within_the_quantisation_bound_of_the_float_update()
    {
        // |Σ_r a_r·L_ir − Σ_r s·α_r·L_ir| ≤ Σ_r |L_ir|·s/2 (round to nearest), plus float rounding of both sides.
        var random = new Random(43);
        foreach (int rows in new[] { 64, 2048 })
        {
            const int rank = 64;
            int rowWords = E8PResidualLattice.WordCount(rows);
            var words = RandomWords(random, rank * rowWords);
            var a = Enumerable.Range(0, rank).Select(_ => (float)(random.NextDouble() * 2 - 1) * 0.3f).ToArray();
            var planes = new byte[Int8LowRank.PlaneLength(rows, rank)];
            Int8LowRank.Build(words, rows, rank, planes);
            var alpha = new sbyte[Int8LowRank.PaddedRank(rank)];
            float scale = Int8LowRank.Quantize(a, alpha);
            var exact = new float[rows];
            ResidualRanks.Add(words, rowWords, a, exact);
            var int8 = new float[rows];
            Int8LowRank.Add(planes, 0, alpha, scale, int8);
            var column = new float[rows];
            var bound = new double[rows];
            for (int r = 0; r < rank; r++)
            {
                E8PResidualLattice.DecodeRow(words.AsSpan(r * rowWords, rowWords), column);
                for (int i = 0; i < rows; i++) bound[i] += Math.Abs(column[i]) * (scale / 2 + 2e-6 * Math.Abs(a[r]));
            }
            for (int i = 0; i < rows; i++)
                Assert.True(Math.Abs(int8[i] - exact[i]) <= bound[i], $"rows {rows} row {i}: int8 {int8[i]} vs float {exact[i]}, bound {bound[i]}");
        }
    }

    [Fact]
    public void The_planes_hold_half_of_4C_plus_11_of_both_words_of_every_entry_and_zero_in_the_padding()
    {
        // The reference reads E8PLattice's float decode table, not the int8 table the planes are built from.
        var random = new Random(44);
        ReadOnlySpan<float> decoded = E8PLattice.DecodeTable;
        foreach (int rows in Rows)
            foreach (int rank in Ranks)
            {
                int rowWords = E8PResidualLattice.WordCount(rows), quads = Int8LowRank.PaddedRank(rank) / 4;
                var (words, planes, _, _, _) = Case(random, rows, rank);
                var expected = new byte[planes.Length];
                for (int i = 0; i < rows; i++)
                    for (int r = 0; r < rank; r++)
                    {
                        int g = i / 8, pair = r * rowWords + 2 * g;
                        int first = (int)(4 * decoded[words[pair] * 8 + i % 8]) + 11, second = (int)(4 * decoded[words[pair + 1] * 8 + i % 8]) + 11;
                        expected[(g * quads + r / 4) * 32 + i % 8 * 4 + r % 4] = (byte)(first / 2 | second / 2 << 4);
                    }
                Assert.True(expected.AsSpan().SequenceEqual(planes), $"{rows}×{rank}");
                var reused = Enumerable.Repeat((byte)0xAB, planes.Length).ToArray(); // Build writes every byte, padding included
                Int8LowRank.Build(words, rows, rank, reused);
                Assert.True(expected.AsSpan().SequenceEqual(reused), $"{rows}×{rank} over old bytes");
            }
    }

    [Fact]
    public void A_batch_of_tokens_gives_every_token_its_one_token_scalar_result_bit_for_bit_on_every_path()
    {
        // Token counts around one, the decode-step batch of 8 and past one slice of tokens; slices of rows from several groups,
        // as the rows' chunks start; the last token's α all ±127, the int16 sums' worst case (8 quad pairs · 2 · 11 · 127 = 22352 < 2¹⁵).
        var random = new Random(43);
        foreach (int rows in Rows)
            foreach (int rank in Ranks)
                foreach (int tokens in new[] { 1, 2, 5, 8, Int8LowRank.MaxTileTokens + 1 })
                {
                    var (_, planes, _, _, _) = Case(random, rows, rank);
                    int padded = Int8LowRank.PaddedRank(rank);
                    var alpha = new sbyte[tokens * padded];
                    var scales = new float[tokens];
                    for (int t = 0; t < tokens; t++)
                    {
                        for (int r = 0; r < rank; r++)
                            alpha[t * padded + r] = t == tokens - 1 ? (sbyte)(r % 3 == 0 ? -127 : 127) : (sbyte)random.Next(-127, 128);
                        scales[t] = 0.01f * (t + 1);
                    }
                    for (int first = 0; first * 8 < rows; first += Math.Max(1, rows / 8 / 3))
                    {
                        int length = rows - first * 8, ldz = length + 5;
                        var z0 = Enumerable.Range(0, (tokens - 1) * ldz + length).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
                        var expected = (float[])z0.Clone();
                        for (int t = 0; t < tokens; t++)
                            Int8LowRank.Add(planes, first, alpha.AsSpan(t * padded, padded), scales[t], expected.AsSpan(t * ldz, length), Int8CodedRows.Path.Scalar);
                        foreach (var path in KernelData.Int8VectorPaths.Append(Int8CodedRows.Path.Scalar))
                        {
                            var actual = (float[])z0.Clone();
                            Int8LowRank.AddTokens(planes, first, alpha, scales, tokens, actual, ldz, length, path);
                            Assert.True(expected.AsSpan().SequenceEqual(actual), $"{rows}×{rank}, {tokens} tokens from group {first}, {path}");
                        }
                    }
                }
    }

    [Fact]
    public void Bad_shapes_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => Int8LowRank.Build(new ushort[3], 8, 2, new byte[Int8LowRank.PlaneLength(8, 2)]));
        Assert.Throws<ArgumentException>(() => Int8LowRank.Build(new ushort[4], 8, 2, new byte[5]));
        Assert.Throws<ArgumentException>(() => Int8LowRank.Add(new byte[64], 0, new sbyte[3], 1f, new float[8]));
        Assert.Throws<ArgumentException>(() => Int8LowRank.Add(new byte[32], 1, new sbyte[4], 1f, new float[8]));
        Assert.Throws<ArgumentException>(() => Int8LowRank.Quantize(new float[300], new sbyte[300]));
        foreach (var path in KernelData.Int8VectorPaths.Append(Int8CodedRows.Path.Scalar))
        {
            // α that is not whole tokens, too few scales, a stride shorter than the rows, planes that end before the rows.
            Assert.Throws<ArgumentException>(() => Int8LowRank.AddTokens(new byte[64], 0, new sbyte[9], new float[2], 2, new float[16], 8, 8, path));
            Assert.Throws<ArgumentException>(() => Int8LowRank.AddTokens(new byte[64], 0, new sbyte[16], new float[1], 2, new float[16], 8, 8, path));
            Assert.Throws<ArgumentException>(() => Int8LowRank.AddTokens(new byte[64], 0, new sbyte[16], new float[2], 2, new float[16], 7, 8, path));
            Assert.Throws<ArgumentException>(() => Int8LowRank.AddTokens(new byte[32], 0, new sbyte[16], new float[2], 2, new float[32], 16, 16, path));
        }
    }

    private static (ushort[] Words, byte[] Planes, sbyte[] Alpha, float Scale, float[] Z) Case(Random random, int rows, int rank)
    {
        var words = RandomWords(random, rank * E8PResidualLattice.WordCount(rows));
        var planes = new byte[Int8LowRank.PlaneLength(rows, rank)];
        Int8LowRank.Build(words, rows, rank, planes);
        var alpha = new sbyte[Int8LowRank.PaddedRank(rank)];
        for (int r = 0; r < rank; r++) alpha[r] = (sbyte)random.Next(-127, 128);
        var z = Enumerable.Range(0, rows).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        return (words, planes, alpha, 0.01f, z);
    }

    private static ushort[] RandomWords(Random random, int count) =>
        Enumerable.Range(0, count).Select(_ => (ushort)random.Next(1 << 16)).ToArray();
}
