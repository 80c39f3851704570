using Caldera.Compiler.Calibration;
using Caldera.Compiler.Decomposition;
using Caldera.Compiler.Pipeline;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tokenization;

namespace Caldera.Compiler.Tests.Pipeline;

/// <summary>The classifier compressed like a block matrix (<see cref="ClassifierStorage.Caldera"/>) against its own Hessian.</summary>
public class ClassifierCompressionTests
{
    /// <summary>
    /// The calibrator's blocks and the runtime's forward pass compute the same fp32 activations with different code (and sum
    /// in other orders): Σ‖logits‖² over 256 tokens agrees with tr(W·Σx̂x̂ᵀ·Wᵀ) to fp32 rounding of sums of a few hundred terms.
    /// </summary>
    private const double HessianTolerance = 1e-4;

    /// <summary>
    /// Rank 4 at a tiny preset on stories260K leaves every matrix 10–30 % off, so the logits are not the checkpoint's; they
    /// still point the same way (measured: 0.989), where a broken classifier's are uncorrelated (about 0).
    /// </summary>
    private const double MinimumLogitCosine = 0.9;

    /// <summary>Int8 activations (per-block scales) against float ones on the same weights: rounding noise of about 1 % per matrix.</summary>
    private const double MinimumInt8Cosine = 0.99;

    private static readonly CalderaOptions Tiny = CalderaOptions.Fast with { Rank = 4, OuterIterations = 2, InnerIterations = 3, RefinementSweeps = 1 };

    private static CalibrationSet Calibration() =>
        CalibrationSet.Create(new CalibrationText(TestModels.TinyStoriesPrefix(20_000), "tinystories prefix"),
            ModelTokenizer.Load(TestModels.Tok512Model), samples: 4, sequenceLength: 64);

    [Fact]
    public void The_classifier_Hessian_is_that_of_the_inputs_the_runtime_forward_pass_gives_the_classifier()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        var calibration = Calibration();
        using var calibrator = new LayerwiseCalibrator(model, calibration, threads: 2);
        Assert.Throws<InvalidOperationException>(() => calibrator.ClassifierHessian());
        for (int l = 0; l < model.Config.LayerCount; l++) calibrator.Advance(captureHessians: false);
        var hessian = calibrator.ClassifierHessian();
        Assert.Equal(calibration.Tokens.Length, hessian.Count);

        // Σ_t ‖W·x̂_t‖² = tr(W·(Σ_t x̂_t·x̂_tᵀ)·Wᵀ), with the logits W·x̂_t from the runtime's own dense forward pass.
        int vocab = model.Config.VocabSize, dim = model.Config.Dim, length = calibration.SequenceLength;
        double logitEnergy = 0;
        using (var transformer = new Transformer(model, new TransformerOptions { Threads = 1 }))
        {
            var logits = new float[length * vocab];
            for (int s = 0; s < calibration.Samples; s++)
            {
                transformer.Prefill(calibration.Tokens.AsSpan(s * length, length), 0, logits);
                foreach (float v in logits) logitEnergy += (double)v * v;
            }
        }
        var sum = hessian.SecondMoment();
        var w = model.Tensor(TensorNames.TokenEmbedding).ToArray(); // stories260K's classifier is its embedding
        double trace = 0;
        var wh = new double[dim];
        for (int r = 0; r < vocab; r++)
        {
            Array.Clear(wh);
            for (int i = 0; i < dim; i++)
                for (int j = 0; j < dim; j++) wh[j] += w[r * dim + i] * sum[i, j];
            for (int j = 0; j < dim; j++) trace += wh[j] * w[r * dim + j];
        }
        trace *= hessian.Count;
        Assert.True(Math.Abs(trace - logitEnergy) <= HessianTolerance * logitEnergy, $"tr(W·Σ·Wᵀ) {trace} vs Σ‖logits‖² {logitEnergy}");
    }

    [Fact]
    public void A_tied_classifier_compressed_becomes_a_matrix_of_its_own_beside_the_embedding_and_runs()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        Assert.True(model.Config.TiedClassifier);
        var plan = new CompressionPlan
        {
            Method = CompressionMethod.Caldera, Decomposition = Tiny, ClassifierStorage = ClassifierStorage.Caldera, Threads = 2, ParallelMatrices = 2,
        };
        var content = new ModelCompressor(plan).Compress(model, Calibration(), TokenizerPayloads.FromFile(TestModels.Tok512Model), "00", null);

        Assert.False(content.Config.TiedClassifier);
        Assert.Equal(7 * model.Config.LayerCount + 1, content.Matrices.Count);
        var classifier = content.Matrices[^1];
        Assert.Equal((TensorNames.Output, 512, 64, 4), (classifier.Name, classifier.Rows, classifier.Columns, classifier.Rank));
        Assert.DoesNotContain(content.DenseTensors, d => d.Name == TensorNames.Output);
        Assert.Contains(content.DenseTensors, d => d.Name == TensorNames.TokenEmbedding);
        Assert.Null(CompressedModelCheck.FindProblem(content));

        // The compressed classifier is what the forward pass runs, and the logits follow the checkpoint's (a wrong layout,
        // scale or transform of a 512×64 classifier gives logits unrelated to them).
        using var weights = new CompressedModelWeights(content);
        using var transformer = new Transformer(content.Config, binding => weights.Bind(binding), new TransformerOptions { Threads = 1 });
        using var reference = new Transformer(model, new TransformerOptions { Threads = 1 });
        Assert.IsType<CompressedLinear>(Bound(weights).Classifier);
        int[] tokens = [1, 403, 261, 270, 313, 290, 280];
        var compressed = transformer.Prefill(tokens, 0).ToArray();
        var exact = reference.Prefill(tokens, 0).ToArray();
        double cosine = System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(exact, compressed);
        Assert.True(cosine >= MinimumLogitCosine, $"cosine of the logits {cosine}");

        // The int8 decode path runs it too (every matrix, the classifier included, on int8 activations).
        using var int8 = new Transformer(content.Config, binding => weights.Bind(binding), new TransformerOptions { Threads = 1, Int8Activations = true });
        var int8Logits = int8.Prefill(tokens, 0).ToArray();
        double int8Cosine = System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(compressed, int8Logits);
        Assert.True(int8Cosine >= MinimumInt8Cosine, $"cosine of the int8 and float logits {int8Cosine}");
    }

    [Fact]
    public void A_rerun_takes_the_compressed_classifier_from_the_cache_with_the_blocks()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        using var temp = new TempDirectory();
        string cache = temp.File("model.cald.parts");
        var plan = new CompressionPlan
        {
            Method = CompressionMethod.Caldera, Decomposition = Tiny, ClassifierStorage = ClassifierStorage.Caldera, Threads = 2, ParallelMatrices = 2,
        };
        var first = new ModelCompressor(plan).Compress(model, Calibration(), null, "00", cache);
        Assert.True(File.Exists(Path.Combine(cache, $"layer-{model.Config.LayerCount:D4}.part")));

        var events = new List<CompressionProgress>();
        var second = new ModelCompressor(plan).Compress(model, Calibration(), null, "00", cache, new Recorder(events));
        Assert.DoesNotContain(events, e => e.Event is CompressionEvent.MatrixCompressed or CompressionEvent.CacheRejected);
        Assert.Equal(first.Matrices.Select(m => (m.Name, m.Rank, m.RelativeError)), second.Matrices.Select(m => (m.Name, m.Rank, m.RelativeError)));
        Assert.True(first.Matrices[^1].QCodes.Span.SequenceEqual(second.Matrices[^1].QCodes.Span));
    }

    [Fact]
    public void By_default_a_tied_classifier_stays_the_embedding()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        var plan = new CompressionPlan { Method = CompressionMethod.Caldera, Decomposition = Tiny, Threads = 2, ParallelMatrices = 2 };
        Assert.Equal(ClassifierStorage.AsEmbedding, plan.ClassifierStorage);
        var content = new ModelCompressor(plan).Compress(model, Calibration(), null, "00", null);
        Assert.True(content.Config.TiedClassifier);
        Assert.DoesNotContain(content.Matrices, m => m.Name == TensorNames.Output);
    }

    [Fact]
    public void Rtn_refuses_to_compress_the_classifier()
    {
        var plan = new CompressionPlan { Method = CompressionMethod.Rtn, ClassifierStorage = ClassifierStorage.Caldera };
        var e = Assert.Throws<ArgumentException>(() => new ModelCompressor(plan));
        Assert.Contains("the classifier is compressed with CALDERA or LDLQ", e.Message);
    }

    /// <summary>Records progress synchronously (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class Recorder(List<CompressionProgress> events) : IProgress<CompressionProgress>
    {
        public void Report(CompressionProgress value)
        {
            lock (events) events.Add(value);
        }
    }

    private static TransformerWeights Bound(CompressedModelWeights weights)
    {
        using var pool = new WorkerPool(1);
        return weights.Bind(new LinearBinding(pool));
    }

}
