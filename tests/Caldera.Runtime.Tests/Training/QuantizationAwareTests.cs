using Caldera.Compiler.Adapters;
using Caldera.Compiler.Quantizers;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Training.Adapters;
using Caldera.Runtime.Training.Arithmetic;
using Caldera.Runtime.Training.FineTuning;
using Caldera.Runtime.Training.Model;

namespace Caldera.Runtime.Tests.Training;

/// <summary>
/// Quantisation-aware training and the merge's rounding on compressed stories260K (4-bit factors; rows of 64, 172 and
/// 32, so partial 8-vectors too): the base ranks round to themselves, the merged file is the model trained, and the
/// merge picks the nearer of its two code pairs.
/// </summary>
public class QuantizationAwareTests
{
    /// <summary>
    /// The merged file's logits against the training pass's on the adapter's ranks, relative to the largest: the same
    /// weights, summed in another order by another path (compressed kernels against fixed-order dots), ~1e-6.
    /// </summary>
    private const double LogitTolerance = 1e-4;

    private static readonly int[] Text = Enumerable.Range(0, 160).Select(i => (i * 37 + 11) % 512).ToArray();

    /// <summary>A learning rate high enough that the rounded ranks move within a few steps.</summary>
    private static readonly FineTuneSettings Settings = new()
    {
        Rank = 16, SequenceLength = 24, Steps = 6, LearningRate = 3e-2, QuantizationAware = true, Threads = 2,
    };

    private static LowRankAdapter Train(CompressedModelContent content, ulong checksum, FineTuneSettings settings) =>
        new FineTuner(content, checksum, "stories260K-r16.cald", settings, FactorRequantization.Nearest).Run(Text);

    [Fact]
    public void The_base_ranks_round_to_themselves_bit_for_bit()
    {
        using var file = CaldFile.Open(CompressedStories.Path);
        var model = TrainableModel.Peel(file.Content, 16, FactorRequantization.Nearest);
        Assert.NotEmpty(model.Trained);
        foreach (var l in model.Trained)
        {
            Assert.True(l.Rounded);
            Assert.Equal(l.LTransposed!.Values, l.ForwardLTransposed!.Values);
            Assert.Equal(l.R!.Values, l.ForwardR!.Values);
        }
    }

    [Fact]
    public void The_merged_file_decodes_to_the_ranks_training_ran_on_and_gives_its_logits()
    {
        using var file = CaldFile.Open(CompressedStories.Path);
        var adapter = Train(file.Content, file.Checksum, Settings);
        var content = AdapterMerge.Merge(file.Content, adapter);
        var merged = content.Matrices.ToDictionary(m => m.Name);
        var original = file.Content.Matrices.ToDictionary(m => m.Name);
        int moved = 0;
        foreach (var a in adapter.Matrices)
        {
            var data = merged[a.Name];
            var lt = Decode(new ResidualRows(data.LTransposedCodes, 0, a.Rank, a.Rows, data.LTransposedScale));
            var r = Decode(new ResidualRows(data.RCodes, 0, a.Rank, a.Columns, data.RScale));
            Assert.Equal(a.LTransposed, lt);
            Assert.Equal(a.R, r);
            moved += a.LTransposed.Zip(Decode(new ResidualRows(original[a.Name].LTransposedCodes, 0, a.Rank, a.Rows, data.LTransposedScale)))
                .Count(p => p.First != p.Second);
        }
        Assert.True(moved > 0, "training moved no rank of Lᵀ off its base value, so this test checks nothing");

        int[] tokens = [1, 403, 407, 261, 378, 429, 395, 260, 443, 300];
        using var weights = new CompressedModelWeights(content);
        using var transformer = new Transformer(content.Config, binding => weights.Bind(binding), new TransformerOptions { Threads = 2 });
        var expected = new float[tokens.Length * content.Config.VocabSize];
        transformer.Prefill(tokens, 0, expected);
        var trained = TrainableModel.Peel(file.Content, 16, FactorRequantization.Nearest);
        adapter.ApplyTo(trained);
        using var pool = new WorkerPool(2);
        var actual = new WindowPass(trained, pool, tokens.Length).Logits(tokens);
        double scale = expected.Max(MathF.Abs);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= LogitTolerance * scale, $"logit {i}: merged {expected[i]}, trained {actual[i]}");
    }

    [Fact]
    public void With_norm_gains_the_merged_file_holds_them_bit_for_bit_and_gives_the_unmerged_adapters_logits()
    {
        using var file = CaldFile.Open(CompressedStories.Path);
        var adapter = Train(file.Content, file.Checksum, Settings with { TrainNorms = true });
        var content = AdapterMerge.Merge(file.Content, adapter);
        var dense = content.DenseTensors.ToDictionary(d => d.Name);
        var original = file.Content.DenseTensors.ToDictionary(d => d.Name);
        Assert.Equal(2 * content.Config.LayerCount + 1, adapter.Gains.Count);
        foreach (var g in adapter.Gains)
        {
            Assert.Equal(Caldera.Runtime.Model.TensorType.F32, dense[g.Name].Type);
            Assert.Equal(System.Runtime.InteropServices.MemoryMarshal.AsBytes(g.Values.AsSpan()).ToArray(), dense[g.Name].Data.ToArray());
        }
        Assert.Contains(adapter.Gains, g => !dense[g.Name].Data.Span.SequenceEqual(original[g.Name].Data.Span));

        int[] tokens = [1, 403, 407, 261, 378, 429, 395, 260, 443, 300];
        float[] Logits(CompressedModelContent model, LowRankAdapter? over)
        {
            using var weights = new CompressedModelWeights(model);
            Func<LinearBinding, TransformerWeights> bind = b => weights.Bind(b);
            using var transformer = new Transformer(model.Config, over is null ? bind : AdaptedLinear.Binder(bind, model, over), new TransformerOptions { Threads = 2 });
            var logits = new float[tokens.Length * model.Config.VocabSize];
            transformer.Prefill(tokens, 0, logits);
            return logits;
        }
        var merged = Logits(content, null);
        var unmerged = Logits(file.Content, adapter);
        var trained = TrainableModel.Peel(file.Content, 16, FactorRequantization.Nearest, trainNorms: true);
        adapter.ApplyTo(trained);
        using var pool = new WorkerPool(2);
        var training = new WindowPass(trained, pool, tokens.Length).Logits(tokens);
        var baseLogits = Logits(file.Content, null);
        double scale = merged.Max(MathF.Abs), moved = 0;
        for (int i = 0; i < merged.Length; i++)
        {
            Assert.True(Math.Abs(merged[i] - unmerged[i]) <= LogitTolerance * scale, $"logit {i}: merged {merged[i]}, unmerged {unmerged[i]}");
            Assert.True(Math.Abs(merged[i] - training[i]) <= LogitTolerance * scale, $"logit {i}: merged {merged[i]}, trained {training[i]}");
            moved = Math.Max(moved, Math.Abs(merged[i] - baseLogits[i]));
        }
        Assert.True(moved > 100 * LogitTolerance * scale, $"training moved the logits by only {moved}");
    }

    [Fact]
    public void One_and_two_threads_write_byte_identical_adapters()
    {
        using var dir = new TempDirectory();
        using var file = CaldFile.Open(CompressedStories.Path);
        AdapterFile.Write(dir.File("1.calda"), Train(file.Content, file.Checksum, Settings with { Threads = 1 }));
        AdapterFile.Write(dir.File("2.calda"), Train(file.Content, file.Checksum, Settings with { Threads = 2 }));
        Assert.Equal(File.ReadAllBytes(dir.File("1.calda")), File.ReadAllBytes(dir.File("2.calda")));
        Assert.True(AdapterFile.Read(dir.File("1.calda")).Training.QuantizationAware);
    }

    [Fact]
    public void Without_the_compilers_search_quantization_aware_training_is_a_clear_error()
    {
        using var file = CaldFile.Open(CompressedStories.Path);
        var e = Assert.Throws<FineTuningException>(() => new FineTuner(file.Content, file.Checksum, "m.cald", Settings));
        Assert.Contains("E8P search", e.Message);
    }

    [Fact]
    public void Half_precision_factors_round_to_the_nearest_half_as_the_merge_stores_them()
    {
        using var file = CaldFile.Open(CompressedStories.Path);
        var data = file.Content.Matrices.First(m => m.Rank > 0) with { FactorBits = 16 };
        var values = Enumerable.Range(0, 2 * data.Columns).Select(i => 0.3f * MathF.Sin(i)).ToArray();
        var rounded = new float[values.Length];
        FactorRounding.For(data, lTransposed: false, 2, FactorRequantization.Nearest).Round(values, rounded);
        Assert.Equal(values.Select(v => (float)(Half)v), rounded);
        Assert.NotEqual(values, rounded);
    }

    [Fact]
    public void Requantizing_the_base_values_gives_the_base_words_which_rounding_anew_does_not()
    {
        using var file = CaldFile.Open(CompressedStories.Path);
        int changedAnew = 0;
        foreach (var data in file.Content.Matrices.Where(m => m.Rank > 0))
        {
            foreach (var (codes, n, scale) in new[] { (data.LTransposedCodes, data.Rows, data.LTransposedScale), (data.RCodes, data.Columns, data.RScale) })
            {
                var values = Decode(new ResidualRows(codes, 0, data.Rank, n, scale));
                Assert.Equal(codes.ToArray(), FactorRequantization.Requantize(codes, values, data.Rank, n, scale));
                int rowWords = E8PResidualLattice.WordCount(n);
                var anew = new ushort[rowWords];
                for (int j = 0; j < data.Rank; j++)
                {
                    var y = values.AsSpan(j * n, n).ToArray().Select(v => v / scale).ToArray();
                    E8PResidualCode.QuantizeRow(y, new float[n], anew);
                    changedAnew += anew.Zip(codes.Span.Slice(j * rowWords, rowWords).ToArray()).Count(p => p.First != p.Second);
                }
            }
        }
        // Why the merge does not simply round anew: the greedy pair of a decoded value is often another pair.
        Assert.True(changedAnew > 0);
    }

    [Theory]
    [InlineData(0.01)]
    [InlineData(0.1)]
    [InlineData(1.0)]
    public void Each_requantized_vector_is_the_nearer_of_the_kept_and_the_greedy_pair(double noise)
    {
        using var file = CaldFile.Open(CompressedStories.Path);
        var data = file.Content.Matrices.First(m => m.Rank > 0 && m.Columns % 8 == 0);
        int r = data.Rank, n = data.Columns, rowWords = E8PResidualLattice.WordCount(n);
        var base_ = Decode(new ResidualRows(data.RCodes, 0, r, n, data.RScale));
        var random = new Random(3);
        var values = base_.Select(v => v + (float)(noise * data.RScale * (random.NextDouble() * 2 - 1))).ToArray();
        var words = FactorRequantization.Requantize(data.RCodes, values, r, n, data.RScale);
        Span<float> chosen = stackalloc float[8], kept = stackalloc float[8], greedy = stackalloc float[8], first = stackalloc float[8],
            residual = stackalloc float[8], second = stackalloc float[8], y = stackalloc float[8];
        for (int j = 0; j < r; j++)
            for (int v = 0; v < n / 8; v++)
            {
                for (int i = 0; i < 8; i++) y[i] = values[j * n + 8 * v + i] / data.RScale;
                int w = j * rowWords + 2 * v;
                E8PResidualLattice.Decode((uint)(words[w] | words[w + 1] << 16), chosen);
                // The reference: the two candidates built one vector at a time from the scalar searches.
                ushort baseFirst = data.RCodes.Span[w];
                E8PCodebook.Decode(baseFirst, first);
                for (int i = 0; i < 8; i++) residual[i] = E8PResidualCode.ResidualScale * (y[i] - first[i]);
                E8PCodebook.Quantize(residual, second);
                for (int i = 0; i < 8; i++) kept[i] = first[i] + second[i] / E8PResidualCode.ResidualScale;
                E8PResidualCode.Quantize(y, greedy);
                double e = Error(y, chosen), eKept = Error(y, kept), eGreedy = Error(y, greedy);
                Assert.Equal(Math.Min(eKept, eGreedy), e, 1e-9);
            }
    }

    private static double Error(ReadOnlySpan<float> y, ReadOnlySpan<float> q)
    {
        double sum = 0;
        for (int i = 0; i < y.Length; i++) sum += (double)(y[i] - q[i]) * (y[i] - q[i]);
        return sum;
    }

    private static float[] Decode(RowMatrix rows)
    {
        var values = new float[rows.Rows * rows.Columns];
        var scratch = new float[rows.Columns];
        for (int j = 0; j < rows.Rows; j++) rows.Row(j, scratch).CopyTo(values.AsSpan(j * rows.Columns));
        return values;
    }
}
