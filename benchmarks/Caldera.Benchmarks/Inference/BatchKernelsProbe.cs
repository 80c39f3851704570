using System.Diagnostics;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Kernels;

namespace Caldera.Benchmarks.Inference;

/// <summary>
/// `sessions kernels [calls]`: the kernels a batch of 8 decode steps shares its weights through, one thread, on the
/// dim-2048 synthetic model's shapes (Q·u of a 5632×2048 matrix, R·u of its rank-64 R, L·t of its 5632×64 L, and 2048
/// rows of the 6-bit classifier), each against the one-token kernel run 8 times. Prints the best and the median
/// milliseconds per call of the two, timed call by call in turn so both see the same load.
/// </summary>
internal static class BatchKernelsProbe
{
    private const int Tokens = 8;

    public static void Run(int calls)
    {
        var path = Int8CodedRows.Best;
        var content = SyntheticCompressedLlama.Build();
        var matrix = content.Matrices.First(m => m.Rows == 5632);
        int columns = matrix.Columns, padded = Int8Activations.PaddedLength(columns), blocks = Int8Activations.BlockCount(columns);
        var random = new Random(3);
        var x = new float[Tokens * columns];
        for (int i = 0; i < x.Length; i++) x[i] = random.NextSingle() - 0.5f;
        var levels = new sbyte[Tokens * padded];
        var majors = new sbyte[Tokens * padded];
        var scales = new float[Tokens * blocks];
        for (int t = 0; t < Tokens; t++)
        {
            Int8Activations.Quantize(x.AsSpan(t * columns, columns), levels.AsSpan(t * padded, padded), scales.AsSpan(t * blocks, blocks));
            Int8CodedTile.LayOut(levels.AsSpan(t * padded, padded), majors.AsSpan(t * padded, padded));
        }
        var y = new float[Tokens * matrix.Rows];
        var tileScratch = new byte[Int8CodedTile.ScratchLength(columns, Tokens)];
        Console.WriteLine($"one thread, {Tokens} tokens, {calls} calls each: 8 × the one-token kernel / the batch kernel");

        Report($"Q·u {matrix.Rows}x{columns}",
            () =>
            {
                for (int t = 0; t < Tokens; t++)
                    Int8CodedRows.DotE8PRows(matrix.QCodes.Span, levels.AsSpan(t * padded, padded), scales.AsSpan(t * blocks, blocks), y.AsSpan(t * matrix.Rows, matrix.Rows), path);
            },
            () => Int8CodedTile.DotE8PRows(matrix.QCodes.Span, matrix.Rows, levels, majors, scales, Tokens, y, matrix.Rows, tileScratch, path), calls);

        int rank = matrix.Rank;
        var factors = new float[Tokens * rank];
        // The factor pass's chunks at 2 threads: the tile in chunks of 4 rows (8 per thread) against the one-token kernel per
        // token in one chunk per thread.
        int words = E8PResidualLattice.WordCount(columns);
        Report($"R·u {rank}x{columns} (one-token kernel in chunks of {rank / 2} rows / tile in chunks of 4)",
            () => RowsPerToken(rank / 2),
            () =>
            {
                for (int r = 0; r < rank; r += 4)
                    Int8ResidualRows.DotRowsTokens(matrix.RCodes.Span.Slice(r * words, 4 * words), 4, levels, majors, scales, Tokens, factors.AsSpan(r, (Tokens - 1) * rank + 4), rank, path);
            }, calls);

        void RowsPerToken(int chunk)
        {
            for (int r = 0; r < rank; r += chunk)
                for (int t = 0; t < Tokens; t++)
                    Int8ResidualRows.DotRows(matrix.RCodes.Span.Slice(r * words, chunk * words), levels.AsSpan(t * padded, padded), scales.AsSpan(t * blocks, blocks), factors.AsSpan(t * rank + r, chunk), path);
        }

        var planes = new byte[Int8LowRank.PlaneLength(matrix.Rows, rank)];
        Int8LowRank.Build(matrix.LTransposedCodes.Span, matrix.Rows, rank, planes);
        int paddedRank = Int8LowRank.PaddedRank(rank);
        var alpha = new sbyte[Tokens * paddedRank];
        var alphaScales = new float[Tokens];
        for (int t = 0; t < Tokens; t++) alphaScales[t] = Int8LowRank.Quantize(x.AsSpan(t * rank, rank), alpha.AsSpan(t * paddedRank, paddedRank));
        Report($"L·t {matrix.Rows}x{rank}",
            () =>
            {
                for (int t = 0; t < Tokens; t++) Int8LowRank.Add(planes, 0, alpha.AsSpan(t * paddedRank, paddedRank), alphaScales[t], y.AsSpan(t * matrix.Rows, matrix.Rows), path);
            },
            () => Int8LowRank.AddTokens(planes, 0, alpha, alphaScales, Tokens, y, matrix.Rows, matrix.Rows, path), calls);

        // 2048 of the classifier's 32000 rows (3 MiB, so the kernels' arithmetic, not the memory the other tenants share, is timed)
        const int ClassifierRows = 2048;
        int classifierPadded = Int6Blocks.PaddedLength(columns), classifierBlocks = Int6Blocks.BlockCount(columns);
        long rowBytes = Int6Blocks.RowBytes(columns);
        var classifier = new byte[ClassifierRows * rowBytes];
        var classifierScales = new ushort[ClassifierRows * classifierBlocks];
        random.NextBytes(classifier);
        for (int i = 0; i < classifierScales.Length; i++) classifierScales[i] = 0x3C00;
        var inputLevels = new sbyte[Tokens * classifierPadded];
        var inputScales = new float[Tokens * classifierBlocks];
        var inputOffsets = new int[Tokens * classifierBlocks];
        for (int t = 0; t < Tokens; t++)
            Int6Blocks.QuantizeInput(x.AsSpan(t * columns, columns), inputLevels.AsSpan(t * classifierPadded, classifierPadded),
                inputScales.AsSpan(t * classifierBlocks, classifierBlocks), inputOffsets.AsSpan(t * classifierBlocks, classifierBlocks));
        var logits = new float[Tokens * ClassifierRows];
        Report($"classifier {ClassifierRows}x{columns} (6-bit)",
            () =>
            {
                for (int t = 0; t < Tokens; t++)
                    Int6BlockRows.DotRows(classifier, classifierScales, inputLevels.AsSpan(t * classifierPadded, classifierPadded),
                        inputScales.AsSpan(t * classifierBlocks, classifierBlocks), inputOffsets.AsSpan(t * classifierBlocks, classifierBlocks),
                        logits.AsSpan(t * ClassifierRows, ClassifierRows), path);
            },
            () => Int6BlockRows.DotRowsTokens(classifier, classifierScales, ClassifierRows, inputLevels, inputScales, inputOffsets, Tokens, logits, ClassifierRows, path),
            calls);
    }

    /// <summary>Times the two kernels call by call, interleaved, and prints the best and the median of each (ms per call).</summary>
    private static void Report(string name, Action oneToken, Action batch, int calls)
    {
        oneToken();
        batch();
        var one = new double[calls];
        var many = new double[calls];
        for (int i = 0; i < calls; i++)
        {
            long start = Stopwatch.GetTimestamp();
            oneToken();
            one[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            start = Stopwatch.GetTimestamp();
            batch();
            many[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(one);
        Array.Sort(many);
        Console.WriteLine($"{name}: best {one[0]:F3} / {many[0]:F3} ms ({one[0] / many[0]:F2}×), median {one[calls / 2]:F3} / {many[calls / 2]:F3} ms");
    }
}
