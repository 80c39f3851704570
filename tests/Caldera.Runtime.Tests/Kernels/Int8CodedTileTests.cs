using Caldera.Runtime.Compression;
using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Tests.Kernels;

public class Int8CodedTileTests
{
    [Fact]
    public void A_batch_gives_every_token_the_one_token_scalar_result_bit_for_bit_on_every_path()
    {
        // Prefill must see the Q·u decode sees. Widths: whole block pairs (512, 2048, 5632: the register tile), an odd
        // block count and a partial block (one-token path per token); rows around the tile height and token counts around
        // the tile width, including a short last tile of each.
        var random = new Random(21);
        foreach (int n in new[] { 512, 2048, 5632, 768, 300 })
            foreach (int rows in new[] { 1, 4, 7, 9 })
                foreach (int tokens in new[] { 1, 2, 5 })
                {
                    int perRow = E8PLattice.VectorCount(n), levels = Int8Activations.PaddedLength(n), blocks = Int8Activations.BlockCount(n);
                    var words = new ushort[rows * perRow];
                    for (int i = 0; i < words.Length; i++) words[i] = (ushort)random.Next(1 << 16);
                    var q = new sbyte[tokens * levels];
                    var scales = new float[tokens * blocks];
                    for (int t = 0; t < tokens; t++)
                        Int8Activations.Quantize(KernelData.Floats(n, 31 * t + n + rows, 2f), q.AsSpan(t * levels, levels), scales.AsSpan(t * blocks, blocks));
                    const int ldy = 11;
                    var expected = new float[(tokens - 1) * Math.Max(ldy, rows) + rows];
                    int stride = Math.Max(ldy, rows);
                    for (int t = 0; t < tokens; t++)
                        Int8CodedRows.DotE8PRows(words, q.AsSpan(t * levels, levels), scales.AsSpan(t * blocks, blocks), expected.AsSpan(t * stride, rows), Int8CodedRows.Path.Scalar);

                    foreach (var path in KernelData.Int8VectorPaths.Append(Int8CodedRows.Path.Scalar))
                    {
                        var coordinateMajor = Int8CodedTile.Tiled(levels, path) ? new sbyte[q.Length] : [];
                        for (int t = 0; t < coordinateMajor.Length / Math.Max(1, levels); t++)
                            Int8CodedTile.LayOut(q.AsSpan(t * levels, levels), coordinateMajor.AsSpan(t * levels, levels));
                        var y = new float[expected.Length];
                        Int8CodedTile.DotE8PRows(words, rows, q, coordinateMajor, scales, tokens, y, stride,
                            new byte[Int8CodedTile.ScratchLength(n, tokens)], path);
                        for (int t = 0; t < tokens; t++)
                            Assert.True(expected.AsSpan(t * stride, rows).SequenceEqual(y.AsSpan(t * stride, rows)), $"n={n} rows={rows} tokens={tokens} token {t} {path}");
                    }
                }
    }

    [IsaFact(Isa.Avx512VbmiGfni)]
    public void The_coordinate_major_layout_is_the_transpose_of_each_word_group()
    {
        Assert.True(Int8CodedTile.Tiled(512, Int8CodedRows.Path.Avx512Vbmi), "a 512-wide input must take the tiled path where VBMI and GFNI run");
        var q = Enumerable.Range(0, 1024).Select(i => (sbyte)(i * 7 % 255 - 127)).ToArray();
        var laidOut = new sbyte[q.Length];
        Int8CodedTile.LayOut(q, laidOut);
        for (int pair = 0; pair < 2; pair++)
            for (int c = 0; c < 8; c++)
                for (int j = 0; j < 64; j++)
                    Assert.Equal(q[512 * pair + 8 * j + c], laidOut[512 * pair + 64 * c + j]);
    }

    [Fact]
    public void Mismatched_sizes_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => Int8CodedTile.LayOut(new sbyte[300], new sbyte[300]));
        foreach (var path in KernelData.Int8VectorPaths.Append(Int8CodedRows.Path.Scalar))
        {
            var scratch = new byte[Int8CodedTile.ScratchLength(512, 2)];
            // Levels that are not whole tokens, an output too short for its stride, a word count that is not whole rows, no tokens.
            Assert.Throws<ArgumentException>(() => Int8CodedTile.DotE8PRows(new ushort[64], 1, new sbyte[1025], new sbyte[1025], new float[4], 2, new float[2], 1, scratch, path));
            Assert.Throws<ArgumentException>(() => Int8CodedTile.DotE8PRows(new ushort[64], 1, new sbyte[1024], new sbyte[1024], new float[4], 2, new float[1], 1, scratch, path));
            Assert.Throws<ArgumentException>(() => Int8CodedTile.DotE8PRows(new ushort[63], 1, new sbyte[1024], new sbyte[1024], new float[4], 2, new float[2], 1, scratch, path));
            Assert.Throws<ArgumentOutOfRangeException>(() => Int8CodedTile.DotE8PRows(new ushort[64], 1, [], [], [], 0, new float[2], 1, scratch, path));
        }
    }
}
