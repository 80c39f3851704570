using Caldera.Runtime.Compression;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Kernels;
using Caldera.CompilerServices;

namespace Caldera.Runtime.Tests.Compression;

[Collection(AllocationCollection.Name)]
public class CompressedLinearTests
{
    /// <summary>
    /// The matrix and the dense reference apply the same decoded values through different float paths (per-token
    /// transforms vs transforms folded into Ŵ, fused vs decoded dots); their difference is rounding, a few ε·√n
    /// relative to the output's RMS for these sizes.
    /// </summary>
    private const double RelativeTolerance = 2e-5;

    public static TheoryData<int, int, int, int, bool> Shapes => new()
    {
        { 64, 172, 8, 4, true }, { 172, 64, 8, 4, true }, { 256, 256, 8, 4, true }, { 768, 256, 8, 16, true },
        { 13, 27, 5, 4, true }, { 27, 13, 3, 16, true }, { 40, 24, 0, 4, true }, { 33, 17, 4, 4, false },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Apply_and_ApplyBatch_match_the_dense_reconstruction(int rows, int columns, int rank, int factorBits, bool transforms)
    {
        var data = SyntheticCompressed.Matrix("m", rows, columns, rank, factorBits, transforms: transforms, seed: rows + columns);
        var w = DenseReference.Reconstruct(data);
        const int tokens = 5;
        var x = Kernels.KernelData.Floats(tokens * columns, 11);
        var expected = DenseReference.Multiply(w, rows, columns, x, tokens);

        using var pool = new WorkerPool(3);
        foreach (var path in new[] { KernelPath.Scalar, KernelPaths.Best })
        {
            var matrix = new CompressedLinear(data, pool, new CompressedLinearScratch(), path);
            var batch = new float[tokens * rows];
            matrix.ApplyBatch(x, batch, tokens);
            DenseReference.AssertClose(expected, batch, $"batch {path}", RelativeTolerance);
            var single = new float[tokens * rows];
            for (int t = 0; t < tokens; t++) matrix.Apply(x.AsSpan(t * columns, columns), single.AsSpan(t * rows, rows));
            DenseReference.AssertClose(expected, single, $"decode {path}", RelativeTolerance);
        }
    }

    [Theory]
    [InlineData(33, 17, 4)]
    [InlineData(64, 300, 8)]
    [InlineData(40, 2048, 0)]
    public void Int8_decode_is_the_float_layer_on_the_dequantised_activation_and_low_rank_input(int rows, int columns, int rank)
    {
        // Without transforms u = x, so the int8 step computes y = g·(s_Q·Q·û + L·ã) with û_i = s_b·q_i: Q and the 4-bit
        // R meet the dequantised activation, t = s_R·R·û, and L meets ã, the int8 rounding of a = s_L·t
        // (Int8LowRank): W·û plus g·Σ_j L_ij·(ã_j − a_j). A batch (prefill) gives every token its decode step's result.
        var data = SyntheticCompressed.Matrix("m", rows, columns, rank, transforms: false, seed: rows);
        var w = DenseReference.Reconstruct(data);
        const int Tokens = 3;
        var x = Kernels.KernelData.Floats(Tokens * columns, 3);
        var decode = new double[Tokens * rows];
        for (int token = 0; token < Tokens; token++)
        {
            var u = x.AsSpan(token * columns, columns);
            var q = new sbyte[Int8Activations.PaddedLength(columns)];
            var scales = new float[Int8Activations.BlockCount(columns)];
            Int8Activations.Quantize(u, q, scales);
            var dequantised = new float[columns];
            for (int i = 0; i < columns; i++) dequantised[i] = scales[i / Int8Activations.BlockLength] * q[i];
            DenseReference.Multiply(w, rows, columns, dequantised, 1).CopyTo(decode, token * rows);
            if (rank == 0) continue;
            var factor = new float[columns];
            var a = new float[rank];
            for (int j = 0; j < rank; j++)
            {
                E8PResidualLattice.DecodeRow(data.RCodes.Span.Slice(j * E8PResidualLattice.WordCount(columns), E8PResidualLattice.WordCount(columns)), factor);
                double t = 0;
                for (int c = 0; c < columns; c++) t += (double)data.RScale * factor[c] * dequantised[c];
                a[j] = (float)(data.LTransposedScale * t);
            }
            var alpha = new sbyte[Int8LowRank.PaddedRank(rank)];
            float scale = Int8LowRank.Quantize(a, alpha);
            var column = new float[rows];
            for (int j = 0; j < rank; j++)
            {
                E8PResidualLattice.DecodeRow(data.LTransposedCodes.Span.Slice(j * E8PResidualLattice.WordCount(rows), E8PResidualLattice.WordCount(rows)), column);
                for (int i = 0; i < rows; i++) decode[token * rows + i] += (double)data.GlobalScale * column[i] * ((double)scale * alpha[j] - a[j]);
            }
        }
        using var pool = new WorkerPool(2);
        foreach (var path in new[] { KernelPath.Scalar, KernelPaths.Best })
        {
            var matrix = new CompressedLinear(data, pool, new CompressedLinearScratch(), path, int8Activations: true);
            var steps = new float[Tokens * rows];
            for (int t = 0; t < Tokens; t++) matrix.Apply(x.AsSpan(t * columns, columns), steps.AsSpan(t * rows, rows));
            DenseReference.AssertClose(decode, steps, $"int8 decode {path}", RelativeTolerance);
            foreach (int n in new[] { 2, Tokens })
            {
                var batch = new float[n * rows];
                matrix.ApplyBatch(x.AsSpan(0, n * columns), batch, n);
                Assert.True(batch.AsSpan().SequenceEqual(steps.AsSpan(0, n * rows)), $"int8 prefill of {n} tokens on {path} is not its decode steps bit for bit");
            }
        }
    }

    [Fact]
    public void Kernels_with_only_the_per_row_members_give_the_generic_result()
    {
        // A generated kernel set that predates DotQRows and AddLRanks gets the interface's defaults (DotQ per row, AddL
        // per rank); the generic kernels override them with the block-sum kernel and ResidualRanks (z in registers
        // across ranks). Both must compute the same matrix up to rounding.
        var data = SyntheticCompressed.Matrix("m", 256, 768, 8, seed: 12);
        var x = Kernels.KernelData.Floats(768, 5);
        using var pool = new WorkerPool(2);
        var expected = new float[256];
        var actual = new float[256];
        new CompressedLinear(data, pool, new CompressedLinearScratch(), GenericRowKernels.Best).Apply(x, expected);
        new CompressedLinear(data, pool, new CompressedLinearScratch(), new PerRowKernels()).Apply(x, actual);
        DenseReference.AssertClose(Array.ConvertAll(expected, v => (double)v), actual, "per-row kernels", RelativeTolerance);
    }

    private sealed class PerRowKernels : ICompressedRowKernels
    {
        public float DotQ(ReadOnlySpan<ushort> words, ReadOnlySpan<float> u) => CodedRows.DotE8P(words, u);
        public float DotR(ReadOnlySpan<ushort> words, ReadOnlySpan<float> u) => CodedRows.DotResidual(words, u);
        public void AddL(ReadOnlySpan<ushort> words, float a, Span<float> z) => CodedRows.AddResidual(words, a, z);
    }

    [Fact]
    public void A_uniform_Q_is_decoded_as_step_times_level()
    {
        var data = SyntheticCompressed.Matrix("rtn", 24, 40, rank: 0, kind: QCodeKind.Uniform, transforms: false, seed: 4, uniformBits: 3);
        var x = Kernels.KernelData.Floats(40, 2);
        var expected = DenseReference.Multiply(DenseReference.Reconstruct(data), 24, 40, x, 1);
        using var pool = new WorkerPool(1);
        var y = new float[24];
        new CompressedLinear(data, pool).Apply(x, y);
        DenseReference.AssertClose(expected, y, "uniform", RelativeTolerance);
    }

    [Fact]
    public void The_result_does_not_depend_on_the_thread_count()
    {
        var data = SyntheticCompressed.Matrix("m", 172, 64, 8, seed: 2);
        var x = Kernels.KernelData.Floats(4 * 64, 3);
        float[] Run(int threads, int n)
        {
            using var pool = new WorkerPool(threads);
            var y = new float[n * 172];
            new CompressedLinear(data, pool).ApplyBatch(x.AsSpan(0, n * 64), y, n);
            return y;
        }
        Assert.Equal(Run(1, 1), Run(4, 1));
        Assert.Equal(Run(1, 4), Run(3, 4));
    }

    [Fact]
    public void Steady_state_calls_allocate_nothing()
    {
        var data = SyntheticCompressed.Matrix("m", 172, 64, 8, seed: 6);
        using var pool = new WorkerPool(2);
        var matrix = new CompressedLinear(data, pool);
        var x = Kernels.KernelData.Floats(8 * 64, 1);
        var y = new float[8 * 172];
        // Warm-up: scratch buffers grow to their size and the JIT settles on its final code.
        Assert.Equal(0, SteadyState.AllocatedBytes(() =>
        {
            matrix.ApplyBatch(x, y, 8);
            matrix.Apply(x.AsSpan(0, 64), y.AsSpan(0, 172));
        }, warmup: 200, window: 10));
    }

    [Fact]
    public void Inconsistent_data_is_rejected_with_the_matrix_name()
    {
        var good = SyntheticCompressed.Matrix("blk.0.attn_q.weight", 16, 16, 2);
        using var pool = new WorkerPool(1);
        var cases = new[]
        {
            good with { QCodes = new ushort[3] },
            good with { QScale = float.NaN },
            good with { Rank = 17 },
            good with { FactorBits = 8 },
            good with { RCodes = default },
            good with { InputTransform = good.InputTransform! with { Signs = new float[16] } },
            good with { OutputTransform = good.OutputTransform! with { BlockOrder = 3 } },
            SyntheticCompressed.Matrix("u", 4, 4, 0, kind: QCodeKind.Uniform, transforms: false) with { QCodes = new ushort[] { 0, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 } },
        };
        foreach (var bad in cases)
        {
            var e = Assert.Throws<ArgumentException>(() => new CompressedLinear(bad, pool));
            Assert.StartsWith(bad.Name, e.Message);
        }
        var y = new float[16];
        Assert.Throws<ArgumentException>(() => new CompressedLinear(good, pool).Apply(new float[15], y));
    }
}
