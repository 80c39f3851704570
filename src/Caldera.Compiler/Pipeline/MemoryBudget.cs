using Caldera.Common;
using Caldera.Runtime.Model;

namespace Caldera.Compiler.Pipeline;

/// <summary>
/// The managed memory a compression needs, estimated from the model's shapes before anything is allocated, and
/// the number of matrices that can be compressed at once within a cap (<c>caldera compress --max-memory</c>).
/// </summary>
/// <remarks>
/// What is held, per phase (n = a matrix's input width, m its output width, bytes):
/// <list type="bullet">
/// <item>Calibration of a block: its four fp64 Hessian sums (8·Σn²) and the residual stream (4·tokens·dim); then
/// each sum becomes a regularized fp32 H (4·n²) one at a time.</item>
/// <item>A decomposition: the block's fp32 Hessians (4·Σn², each dropped after its last matrix), and per matrix in
/// flight at most <see cref="HessianBytesCounted"/>·n² (H̃ packed in fp32, chol(H̃) packed as fp64 and fp32 triangles,
/// BlockLDLQ's one fp32 n'×n' array; H_q is read a panel of rows at a time) plus <see cref="WeightBytesCounted"/>·m·n
/// (W̃, the LR-update's target, two pooled buffers and the LR initialisation's fp64 A·C; W is read again from the
/// mapped checkpoint when needed, and the current and best Q wait as codes).</item>
/// <item>A compressed classifier (<see cref="ClassifierStorage.Caldera"/>), alone after the last block: its fp32 Hessian
/// (4·dim²) and one decomposition of vocab×dim, beside the residual stream. At the dim-2048 synthetic's 32000×2048 that
/// is about 2.0 GiB, the largest phase of its compression.</item>
/// <item>One block's compressed matrices (about 2.3 bits per block weight) and their serialized copy: the block being
/// written to the layer cache, or, once the last block is done, the one read back from it while the model is written,
/// beside the embedding and classifier as stored. Finished blocks are not held (<see cref="StreamedMatrices"/>): the
/// need does not grow with the number of blocks. This is the CLI's case, which always caches; an in-process caller
/// without a cache directory holds every block.</item>
/// </list>
/// The per-entry constants are set from what <c>compress-matrix</c> (benchmarks/Caldera.Benchmarks) needs under a GC
/// hard limit; the mapped checkpoint is file-backed memory the kernel reclaims and is not counted.
/// </remarks>
internal static class MemoryBudget
{
    /// <summary>
    /// Bytes per n×n entry a CALDERA or LDLQ decomposition holds at its peak: H̃ packed in fp32, chol(H̃) packed as fp64 and
    /// fp32 triangles (10 for the whole decomposition) and, during a Q-update, BlockLDLQ's one fp32 n'×n' array (4).
    /// </summary>
    private const long HessianBytesCounted = 14;

    /// <summary>
    /// Bytes per m×n entry a CALDERA or LDLQ decomposition holds at its peak, the LR initialisation: W̃, the LR-update's
    /// target, the pool's two fp32 buffers (BlockLDLQ's E and U, the LR fit's A·C, packed A and Aᵀ) and the fp64 A·C
    /// (8). A Q-update holds 20: W̃, its target, its result and the pool. W is read again from the checkpoint when the
    /// error needs it, and the current and best Q wait as codes (m·n/4 bytes), decoded into a pool buffer when read.
    /// </summary>
    private const long WeightBytesCounted = 24;

    /// <summary>
    /// What the counts miss (GEMM packing, the GC's large-object fragmentation under a hard limit), as a factor on them:
    /// the n×n and m×n counts are each a phase's peak, and their sum an upper bound on both phases. Measured: the whole
    /// compression of the dim-2048 model finishes under a GC heap limit of its budget, and the 8B-shaped model's 4096×14336
    /// ffn_down (docs/large-models.md).
    /// </summary>
    private const double Margin = 1.3;

    /// <summary>The runtime's own objects, tokenizer, calibration text and small arrays (tinystories-256d's whole compression, rank 16, runs under an 80 MiB GC heap limit).</summary>
    private const long Baseline = 96L << 20;

    /// <summary>Bytes one matrix of <paramref name="rows"/>×<paramref name="columns"/> needs while it is compressed.</summary>
    public static long MatrixBytes(long rows, long columns, CompressionMethod method) => method == CompressionMethod.Rtn
        // W, Q, the reconstruction and Δ (m·n fp32 each), H packed in fp32 for the error (n·n): counted, not measured.
        ? 16 * rows * columns + 4 * columns * columns
        : (long)(Margin * (HessianBytesCounted * columns * columns + WeightBytesCounted * rows * columns));

    /// <summary>The largest block matrix (named as in block 0: blk.0.ffn_down.weight), the one that decides whether a cap can be met.</summary>
    public static (string Name, long Rows, long Columns, long Bytes) LargestMatrix(LlamaConfig c, CompressionMethod method) =>
        Shapes(c).Select(s => (s.Name, s.Rows, s.Columns, MatrixBytes(s.Rows, s.Columns, method))).MaxBy(s => s.Item4);

    /// <summary>
    /// Bytes needed with <paramref name="parallel"/> matrices in flight: the larger of a block's calibration and its
    /// decomposition, or, once the last block is done and the calibration state gone, the embedding and classifier
    /// (stored only then); beside either, one compressed block.
    /// </summary>
    /// <param name="classifier">Whether the classifier is compressed too (<see cref="ClassifierStorage.Caldera"/>).</param>
    public static long Need(LlamaConfig c, CompressionMethod method, long calibrationTokens, int parallel, bool classifier = false)
    {
        long[] widths = [c.Dim, c.QDim, c.Dim, c.HiddenDim];
        long squares = widths.Sum(n => n * n);
        long residualStream = 4 * calibrationTokens * c.Dim;
        long calibration = 8 * squares + 4 * widths.Max(n => n * n);
        long decomposition = 4 * squares + parallel * LargestMatrix(c, method).Bytes;
        long classifierPhase = classifier ? ClassifierBytes(c, method) : 0;
        long block = 2 * CompressedBlockBytes(c);
        return Baseline + Math.Max(residualStream + Math.Max(Math.Max(calibration, decomposition), classifierPhase), DenseBytes(c)) + block;
    }

    /// <summary>
    /// The most matrices that can be in flight within <paramref name="cap"/> bytes, at most <paramref name="wanted"/>;
    /// throws <see cref="ArgumentException"/> naming what one matrix needs when not even one fits.
    /// </summary>
    public static int ParallelMatrices(LlamaConfig c, CompressionMethod method, long calibrationTokens, long cap, int wanted, bool classifier = false)
    {
        long one = Need(c, method, calibrationTokens, 1, classifier);
        if (one > cap && classifier && one > Need(c, method, calibrationTokens, 1))
            throw new ArgumentException(
                $"a memory cap of {MemorySize.Format(cap)} is too small for compressing the classifier ({c.VocabSize}×{c.Dim}): it needs about " +
                $"{MemorySize.Format(ClassifierBytes(c, method))} on its own and the whole compression at least {MemorySize.Format(one)}; raise the cap to " +
                $"{MemorySize.Format(RoundUp(one))} or more, or store the classifier as the embedding (--classifier embedding)");
        if (one > cap)
        {
            var largest = LargestMatrix(c, method);
            throw new ArgumentException(
                $"a memory cap of {MemorySize.Format(cap)} is too small for this model: compressing {largest.Name[6..^7]} " +
                $"({largest.Rows}×{largest.Columns}) needs about {MemorySize.Format(largest.Bytes)} on its own and the whole compression at least " +
                $"{MemorySize.Format(one)} with one matrix at a time; raise the cap to {MemorySize.Format(RoundUp(one))} or more");
        }
        int parallel = 1;
        while (parallel < wanted && Need(c, method, calibrationTokens, parallel + 1, classifier) <= cap) parallel++;
        return parallel;
    }

    /// <summary>The classifier's phase: its fp32 Hessian and one vocab×dim decomposition.</summary>
    private static long ClassifierBytes(LlamaConfig c, CompressionMethod method) => 4L * c.Dim * c.Dim + MatrixBytes(c.VocabSize, c.Dim, method);

    /// <summary>Up to the next tenth of a GiB (or MiB below 1 GiB), so the cap a message suggests is never short by rounding.</summary>
    private static long RoundUp(long bytes)
    {
        long unit = bytes >= 1L << 30 ? (1L << 30) / 10 : 1L << 20;
        return (bytes + unit - 1) / unit * unit;
    }

    /// <summary>One compressed block: 2-bit Q, rank-64 factors, codes and half copies.</summary>
    private static long CompressedBlockBytes(LlamaConfig c) =>
        Shapes(c).Sum(s => s.Rows * s.Columns / 4 + 5 * 64 * (s.Rows + s.Columns) / 2);

    /// <summary>The embedding and an untied classifier, at F16 (6-bit blocks take less).</summary>
    private static long DenseBytes(LlamaConfig c) => 2L * c.VocabSize * c.Dim * (c.TiedClassifier ? 1 : 2);

    /// <summary>The matrices of <see cref="BlockMatrix.All"/> in block 0, with their shapes from <see cref="TensorNames.Expected"/>.</summary>
    private static IEnumerable<(string Name, long Rows, long Columns)> Shapes(LlamaConfig c)
    {
        var expected = TensorNames.Expected(c with { LayerCount = 1 }).ToDictionary(t => t.Name, t => t.Shape);
        return BlockMatrix.All.Select(m => (m.Name(0), expected[m.Name(0)][0], expected[m.Name(0)][1]));
    }
}
