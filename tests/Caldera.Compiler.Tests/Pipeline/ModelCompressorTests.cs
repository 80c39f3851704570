using Caldera.Compiler.Calibration;
using Caldera.Compiler.Decomposition;
using Caldera.Compiler.LinearAlgebra;
using Caldera.Compiler.Pipeline;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tokenization;

namespace Caldera.Compiler.Tests.Pipeline;

public class ModelCompressorTests
{
    /// <summary>
    /// The content's matrices are applied in fp64 with dense transforms, the decomposition's from its codes in
    /// fp32 with fast transforms: agreement to 1e-4 of ‖y‖ is fp32 rounding over ≤ 172-term sums, while a wrong
    /// code, scale, sign or layout is off by O(1).
    /// </summary>
    private const double ApplyTolerance = 1e-4;

    /// <summary>A tiny preset: every part of the algorithm runs, in seconds on stories260K.</summary>
    private static readonly CalderaOptions Tiny = CalderaOptions.Fast with { Rank = 4, OuterIterations = 2, InnerIterations = 3, RefinementSweeps = 1 };

    private static CalibrationSet Calibration() =>
        CalibrationSet.Create(new CalibrationText(TestModels.TinyStoriesPrefix(20_000), "tinystories prefix"),
            ModelTokenizer.Load(TestModels.Tok512Model), samples: 4, sequenceLength: 64);

    private static CompressedModelContent Compress(ModelCheckpoint model, CompressionPlan plan, string? cache = null,
        IProgress<CompressionProgress>? progress = null, CancellationToken cancellation = default) =>
        new ModelCompressor(plan).Compress(model, Calibration(), TokenizerPayloads.FromFile(TestModels.Tok512Model), "00", cache, progress, cancellation);

    public static TheoryData<string, int> Methods => new()
    {
        { nameof(CompressionMethod.Caldera), 4 },
        { nameof(CompressionMethod.Caldera), 16 },
        { nameof(CompressionMethod.Ldlq), 4 },
        { nameof(CompressionMethod.Rtn), 4 },
    };

    /// <summary>
    /// Randomized SVD with 8 extra columns and four power iterations against an exact SVD: the leading values agree to 0.1 %
    /// (stories260K's spectra are flat, the hardest case), the last of the 32 kept (where the sketch is thinnest) within a few percent.
    /// </summary>
    private const double LeadingSpectrumTolerance = 1e-3, TrailingSpectrumTolerance = 0.05;

    [Fact]
    public void Every_matrix_stores_the_top_singular_values_of_W_and_of_W_minus_Q()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        var plan = new CompressionPlan { Method = CompressionMethod.Caldera, Decomposition = Tiny, Threads = 2, ParallelMatrices = 2 };
        var content = Compress(model, plan);
        using var calibrator = new LayerwiseCalibrator(model, Calibration(), threads: 2);
        var hessians = calibrator.Advance(captureHessians: true)!;
        for (int i = 0; i < BlockMatrix.All.Count; i++)
        {
            var slot = BlockMatrix.All[i];
            var tensor = model.Tensor(slot.Name(0));
            var w = new Matrix<float>(tensor.Rows, tensor.Columns, tensor.ToArray());
            var direct = CalderaDecomposer.Decompose(w, hessians[slot.Input].SecondMoment(), plan.EffectiveDecomposition(1));
            var residual = direct.ReconstructQ();
            for (int e = 0; e < residual.Data.Length; e++) residual.Data[e] = w.Data[e] - residual.Data[e];
            var spectrum = content.Matrices[i].Spectrum!;
            AssertSpectrum(slot.Name(0) + " W", Exact(w), spectrum.Weight);
            AssertSpectrum(slot.Name(0) + " W − Q", Exact(residual), spectrum.Residual);
        }

        static double[] Exact(Matrix<float> a)
        {
            var wide = new Matrix<double>(a.Rows, a.Cols);
            for (int e = 0; e < a.Data.Length; e++) wide.Data[e] = a.Data[e];
            return ThinSvd.Decompose(wide).S;
        }

        static void AssertSpectrum(string what, double[] exact, float[] stored)
        {
            Assert.Equal(Math.Min(32, exact.Length), stored.Length);
            for (int k = 0; k < stored.Length; k++)
            {
                double tolerance = k < 8 ? LeadingSpectrumTolerance : TrailingSpectrumTolerance;
                Assert.True(Math.Abs(stored[k] - exact[k]) <= tolerance * exact[k], $"{what}: σ{k + 1} {stored[k]} vs exact {exact[k]}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void Every_matrix_of_the_content_applies_like_its_decomposition(string methodName, int factorBits)
    {
        var method = Enum.Parse<CompressionMethod>(methodName);
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        var plan = new CompressionPlan { Method = method, Decomposition = Tiny with { FactorBits = factorBits }, Threads = 2, ParallelMatrices = 2 };
        var content = Compress(model, plan);
        var c = model.Config;
        Assert.Equal(7 * c.LayerCount, content.Matrices.Count);

        // The same decompositions run directly from the calibrator's Hessians.
        using var calibrator = new LayerwiseCalibrator(model, Calibration(), threads: 2);
        var random = new Random(5);
        for (int l = 0; l < c.LayerCount; l++)
        {
            var hessians = calibrator.Advance(captureHessians: true)!;
            for (int i = 0; i < BlockMatrix.All.Count; i++)
            {
                var slot = BlockMatrix.All[i];
                var data = content.Matrices[l * 7 + i];
                var tensor = model.Tensor(slot.Name(l));
                Assert.Equal(slot.Name(l), data.Name);
                var w = new Matrix<float>(tensor.Rows, tensor.Columns, tensor.ToArray());
                var h = hessians[slot.Input].SecondMoment();
                var direct = method == CompressionMethod.Rtn
                    ? RoundToNearest.Compress(w, h, plan.RtnBits)
                    : CalderaDecomposer.Decompose(w, h, plan.EffectiveDecomposition(1));
                Assert.Equal(direct.RelativeError, data.RelativeError, 12);

                var x = TestData.Gaussian(random, tensor.Columns);
                var expected = new float[tensor.Rows];
                direct.Apply(x, expected);
                var actual = LinearDataReference.Apply(data, x);
                double norm = Math.Sqrt(expected.Sum(v => (double)v * v)), worst = 0;
                for (int r = 0; r < expected.Length; r++) worst = Math.Max(worst, Math.Abs(actual[r] - expected[r]));
                Assert.True(worst <= ApplyTolerance * norm, $"{data.Name}: max |Δy| {worst:E3} vs ‖y‖ {norm:E3}");
            }
        }

        Assert.Equal(method == CompressionMethod.Caldera ? 4 : 0, content.Settings.Rank);
        Assert.Equal(method == CompressionMethod.Rtn ? QCodeKind.Uniform : QCodeKind.E8P, content.Matrices[0].QKind);
        Assert.Equal(method != CompressionMethod.Rtn, content.Matrices[0].InputTransform is not null);
    }

    [Fact]
    public unsafe void The_embedding_of_a_dim_256_model_is_stored_in_6bit_blocks_each_weight_within_half_a_level()
    {
        using var model = ModelCheckpoint.Open(TestModels.TinyStories256dGguf);
        var config = model.Config with { TiedClassifier = true }; // its output.weight copies the embedding
        var embedding = DenseTensors.Of(model, config, EmbeddingStorage.Int6, classifier: !config.TiedClassifier).Single(t => t.Name == TensorNames.TokenEmbedding);
        Assert.Equal(TensorType.Int6Blocks, embedding.Type);
        Assert.Equal(TensorType.Int6Blocks.ByteLength(embedding.Shape), embedding.Data.Length);
        var original = model.Tensor(TensorNames.TokenEmbedding).ToArray();
        float[] stored;
        fixed (byte* p = embedding.Data.Span) stored = new TensorView(embedding.Name, embedding.Shape, embedding.Type, p).ToArray();
        // Half a level of max/31 rounded up to a BF16 (at most 2⁻⁷ above), plus float rounding of the decode.
        for (int b = 0; b < original.Length / 32; b++)
        {
            float max = MathF.Abs(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(original.AsSpan(32 * b, 32)));
            float halfLevel = max / 31 / 2 * (1 + 1f / 128) + 1e-6f * max;
            for (int i = 32 * b; i < 32 * b + 32; i++) Assert.True(MathF.Abs(stored[i] - original[i]) <= halfLevel, $"weight {i}: {stored[i]} vs {original[i]}");
        }
        Assert.Equal(TensorType.F16, DenseTensors.Of(model, config, EmbeddingStorage.F16, classifier: !config.TiedClassifier).Single(t => t.Name == TensorNames.TokenEmbedding).Type);
    }

    [Fact]
    public void Dense_tensors_tokenizer_and_settings_are_carried_over()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        var content = Compress(model, new CompressionPlan { Method = CompressionMethod.Rtn, RtnBits = 3, Threads = 2 });

        // 6-bit blocks pad each row of 64 to 256 entries (208 bytes against F16's 128), so the default keeps F16 here.
        var embedding = content.DenseTensors.Single(t => t.Name == TensorNames.TokenEmbedding);
        Assert.Equal(TensorType.F16, embedding.Type);
        Assert.Equal([512L, 64L], embedding.Shape);
        var halves = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(embedding.Data.Span);
        var original = model.Tensor(TensorNames.TokenEmbedding).ToArray();
        for (int i = 0; i < original.Length; i++) Assert.Equal((Half)original[i], halves[i]);
        Assert.Equal(TensorType.F32, content.DenseTensors.Single(t => t.Name == TensorNames.OutputNorm).Type);
        Assert.Equal(2 * model.Config.LayerCount + 2, content.DenseTensors.Count); // tied classifier: no output.weight

        Assert.Equal(TokenizerPayloadKind.SentencePieceModel, content.Tokenizer!.Kind);
        Assert.Equal(File.ReadAllBytes(TestModels.Tok512Model), content.Tokenizer.Bytes.ToArray());
        Assert.Equal(("rtn", 3, 0), (content.Settings.Method, content.Settings.QBits, content.Settings.Rank));
        Assert.Equal((4, 64, "tinystories prefix"), (content.Settings.CalibrationSamples, content.Settings.CalibrationSequenceLength, content.Settings.Calibration));
        Assert.Equal(ModelCompressor.ToolVersion, content.ToolVersion);
        Assert.All(content.Matrices, m => Assert.Equal(3, m.QBits));
    }

    [Fact]
    public void A_cancelled_run_resumes_from_its_cache_and_equals_an_uninterrupted_run()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        using var temp = new TempDirectory();
        string cache = temp.File("model.cald.parts");
        var plan = new CompressionPlan { Method = CompressionMethod.Caldera, Decomposition = Tiny, Threads = 2, ParallelMatrices = 2 };
        var uninterrupted = Compress(model, plan);

        using var cancel = new CancellationTokenSource();
        var first = new Recorder(p =>
        {
            if (p.Event == CompressionEvent.LayerCompressed && p.Layer == 1) cancel.Cancel();
        });
        Assert.ThrowsAny<OperationCanceledException>(() => Compress(model, plan, cache, first, cancel.Token));
        Assert.Equal([0, 1], first.Layers(CompressionEvent.LayerCompressed));
        Assert.Equal(2, Directory.GetFiles(cache, "*.part").Length);

        var second = new Recorder();
        var resumed = Compress(model, plan, cache, second);
        Assert.Equal([0, 1], second.Layers(CompressionEvent.LayerFromCache));
        Assert.Equal([2, 3, 4], second.Layers(CompressionEvent.LayerCompressed));
        Assert.Equal([2, 3, 4], second.Layers(CompressionEvent.MatrixCompressed).Distinct());
        AssertSameContent(uninterrupted, resumed);

        // A corrupt part is not trusted: it is reported, recompressed, and the result is unchanged.
        string part = Path.Combine(cache, "layer-0003.part");
        var bytes = File.ReadAllBytes(part);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(part, bytes);
        var third = new Recorder();
        var repaired = Compress(model, plan, cache, third);
        Assert.Contains(third.Events, p => p.Event == CompressionEvent.CacheRejected && p.Layer == 3 && p.Note!.Contains("checksum"));
        Assert.Equal([3], third.Layers(CompressionEvent.LayerCompressed));
        AssertSameContent(uninterrupted, repaired);

        // Other settings make another stamp: nothing is reused.
        var fourth = new Recorder();
        Compress(model, plan with { Decomposition = Tiny with { Rank = 8 } }, cache, fourth);
        Assert.Empty(fourth.Layers(CompressionEvent.LayerFromCache));
        Assert.Equal(5, fourth.Events.Count(p => p.Event == CompressionEvent.CacheRejected));
    }

    [Fact]
    public void Truncated_and_foreign_part_files_are_rejected()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        using var temp = new TempDirectory();
        var cache = new LayerCache(temp.Path, new string('a', 64));
        var content = Compress(model, new CompressionPlan { Method = CompressionMethod.Rtn, Threads = 2 });
        cache.Save(0, content.Matrices.Take(7).ToList());
        var loaded = cache.TryLoad(0, out var rejection);
        Assert.Null(rejection);
        Assert.Equal(7, loaded!.Count);
        for (int i = 0; i < 7; i++) AssertSameMatrix(content.Matrices[i], loaded[i]);

        Assert.Null(new LayerCache(temp.Path, new string('b', 64)).TryLoad(0, out rejection));
        Assert.Contains("other settings", rejection);
        Assert.Null(cache.TryLoad(1, out rejection));
        Assert.Null(rejection);

        string path = cache.PathOf(0);
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..100]);
        Assert.Null(cache.TryLoad(0, out rejection));
        Assert.Contains("checksum", rejection);
        File.WriteAllBytes(path, new byte[10]);
        Assert.Null(cache.TryLoad(0, out rejection));
        Assert.Contains("truncated", rejection);
    }

    private static void AssertSameContent(CompressedModelContent expected, CompressedModelContent actual)
    {
        Assert.Equal(expected.Matrices.Count, actual.Matrices.Count);
        for (int i = 0; i < expected.Matrices.Count; i++) AssertSameMatrix(expected.Matrices[i], actual.Matrices[i]);
        Assert.Equal(expected.Settings, actual.Settings);
        Assert.Equal(expected.DenseTensors.Count, actual.DenseTensors.Count);
    }

    private static void AssertSameMatrix(CompressedLinearData a, CompressedLinearData b)
    {
        Assert.Equal((a.Name, a.Rows, a.Columns, a.GlobalScale, a.QKind, a.QBits, a.QWordsPerRow, a.QScale, a.Rank, a.FactorBits),
            (b.Name, b.Rows, b.Columns, b.GlobalScale, b.QKind, b.QBits, b.QWordsPerRow, b.QScale, b.Rank, b.FactorBits));
        Assert.Equal((a.LTransposedScale, a.RScale, a.RelativeError), (b.LTransposedScale, b.RScale, b.RelativeError));
        Assert.True(a.QCodes.Span.SequenceEqual(b.QCodes.Span), $"{a.Name}: Q codes differ");
        Assert.True(a.LTransposedCodes.Span.SequenceEqual(b.LTransposedCodes.Span), $"{a.Name}: Lᵀ codes differ");
        Assert.True(a.RCodes.Span.SequenceEqual(b.RCodes.Span), $"{a.Name}: R codes differ");
        Assert.True(a.L.Span.SequenceEqual(b.L.Span) && a.R.Span.SequenceEqual(b.R.Span), $"{a.Name}: 16-bit factors differ");
        foreach (var (ta, tb) in new[] { (a.InputTransform, b.InputTransform), (a.OutputTransform, b.OutputTransform) })
        {
            Assert.Equal(ta is null, tb is null);
            if (ta is null || tb is null) continue;
            Assert.Equal((ta.Length, ta.BlockOrder, ta.IsHadamard), (tb.Length, tb.BlockOrder, tb.IsHadamard));
            Assert.True(ta.Signs.Span.SequenceEqual(tb.Signs.Span) && ta.FallbackBlock.Span.SequenceEqual(tb.FallbackBlock.Span), $"{a.Name}: transforms differ");
        }
    }

    /// <summary>Records progress synchronously (Progress&lt;T&gt; would post to the thread pool) and runs an action on each report.</summary>
    private sealed class Recorder(Action<CompressionProgress>? onReport = null) : IProgress<CompressionProgress>
    {
        public List<CompressionProgress> Events { get; } = [];

        public void Report(CompressionProgress value)
        {
            lock (Events) Events.Add(value);
            onReport?.Invoke(value);
        }

        public int[] Layers(CompressionEvent e) => [.. Events.Where(p => p.Event == e).Select(p => p.Layer)];
    }
}
