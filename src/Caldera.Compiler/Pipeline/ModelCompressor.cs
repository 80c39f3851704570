using System.Diagnostics;
using Caldera.Compiler.Calibration;
using Caldera.Compiler.Decomposition;
using Caldera.Compiler.LinearAlgebra;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;

namespace Caldera.Compiler.Pipeline;

/// <summary>
/// Turns a checkpoint into a <see cref="CompressedModelContent"/>: for each decoder block in turn, calibrate it
/// (<see cref="LayerwiseCalibrator"/>: its four Hessians from the full-precision model), compress its seven
/// matrices with the <see cref="CompressionPlan"/>'s method (several at once), cache the block, drop its
/// Hessians, and move on. With <see cref="ClassifierStorage.Caldera"/> the classifier follows, compressed against the
/// Hessian of the final norm's outputs (<see cref="LayerwiseCalibrator.ClassifierHessian"/>). Embedding, norms and a classifier
/// not compressed are stored by <see cref="DenseTensors"/>; a classifier that copies the embedding byte for byte makes the
/// model tied (<see cref="TiedWeights"/>). Blocks found
/// in the cache under the same stamp are taken from it, so a rerun after an interruption redoes only the rest
/// and gives the same content. With a cache, finished blocks are not held in memory: the content's matrices are read
/// back from it one block at a time when the model is written (<see cref="StreamedMatrices"/>), so the memory a
/// compression needs does not grow with the number of blocks.
/// </summary>
internal sealed class ModelCompressor(CompressionPlan plan)
{
    /// <summary>The version recorded in the content and in the cache stamp.</summary>
    public static string ToolVersion { get; } = typeof(ModelCompressor).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    public CompressionPlan Plan { get; } = plan.Validate();

    /// <param name="sourceSha256">The checkpoint's <see cref="SourceHash"/>, recorded and part of the cache stamp.</param>
    /// <param name="cacheDirectory">
    /// Where finished blocks are cached (<see cref="LayerCache.DirectoryFor"/>), and from where the returned content's matrices
    /// are read (it must stay until the model is written); null for none: every block is then held in memory.
    /// </param>
    /// <param name="cancellation">Checked between blocks and before each matrix; finished blocks stay cached.</param>
    public CompressedModelContent Compress(ModelCheckpoint checkpoint, CalibrationSet calibration, TokenizerPayload? tokenizer,
        string sourceSha256, string? cacheDirectory, IProgress<CompressionProgress>? progress = null, CancellationToken cancellation = default)
    {
        var c = checkpoint.Config;
        var clock = Stopwatch.StartNew();
        var cache = cacheDirectory is null ? null
            : new LayerCache(cacheDirectory, Plan.Stamp(sourceSha256, calibration.Description, calibration.Samples, calibration.SequenceLength, ToolVersion));
        var reporter = new Reporter(progress, c.LayerCount, clock);

        // Parts 0..L−1 are the blocks; part L, when the classifier is compressed, is the classifier alone.
        bool compressClassifier = Plan.ClassifierStorage == ClassifierStorage.Caldera;
        int parts = c.LayerCount + (compressClassifier ? 1 : 0);
        // Without a cache, the finished parts are held here; with one, they are only checked and read back when written.
        var blocks = new IReadOnlyList<CompressedLinearData>?[parts];
        bool[] fromCache = new bool[parts];
        for (int l = 0; l < parts && cache != null; l++)
        {
            var cached = cache.TryLoad(l, out string? rejection);
            if (cached != null && !Fits(checkpoint, l, cached))
            {
                cached = null;
                rejection = $"{cache.PathOf(l)}: its matrices do not match {(l < c.LayerCount ? $"block {l}" : "the classifier")} of the checkpoint";
            }
            fromCache[l] = cached != null;
            if (rejection != null) reporter.Report(CompressionEvent.CacheRejected, l, null, 0, rejection);
        }
        for (int l = 0; l < parts; l++)
            if (!fromCache[l])
                foreach (var name in PartMatrices(c, l)) reporter.WeightsLeft += WeightsOf(checkpoint, name).ElementCount;

        // Opening the checkpoint read every weight (the readers refuse NaN and infinite ones): those pages count in the
        // resident set until released, the whole file beside the first block's work.
        checkpoint.ReleaseResidentPages();
        int lastToCompress = Array.LastIndexOf(fromCache, false);
        var ranks = Plan.Budget is { } budget && lastToCompress >= 0 ? AllocateRanks(checkpoint, calibration, budget, cancellation) : null;
        using (var calibrator = lastToCompress < 0 ? null : new LayerwiseCalibrator(checkpoint, calibration, Plan.Threads))
        {
            for (int l = 0; l < c.LayerCount; l++)
            {
                cancellation.ThrowIfCancellationRequested();
                if (fromCache[l])
                {
                    // The residual stream still has to pass this block to reach the ones left to compress.
                    if (l < lastToCompress) calibrator!.Advance(captureHessians: false, cancellation);
                    checkpoint.ReleaseResidentPages();
                    reporter.Report(CompressionEvent.LayerFromCache, l, null, 0);
                    continue;
                }
                var hessians = calibrator!.Advance(captureHessians: true, cancellation)!;
                var block = CompressBlock(checkpoint, l, hessians, ranks, reporter, cancellation);
                if (cache != null) cache.Save(l, block);
                else blocks[l] = block;
                // The block's weights (and the embedding, at the first) were read from the mapped checkpoint: released,
                // the resident set holds one block's pages at a time instead of the whole file by the last block.
                checkpoint.ReleaseResidentPages();
                reporter.Report(CompressionEvent.LayerCompressed, l, null, 0);
            }
            if (compressClassifier && !fromCache[c.LayerCount])
            {
                cancellation.ThrowIfCancellationRequested();
                var classifier = CompressClassifier(checkpoint, calibrator!, ranks?[TensorNames.Output]);
                reporter.MatrixDone(c.LayerCount, "output", classifier.RelativeError, (long)classifier.Rows * classifier.Columns);
                if (cache != null) cache.Save(c.LayerCount, [classifier]);
                else blocks[c.LayerCount] = [classifier];
            }
        }

        // A classifier stored as a byte-for-byte copy of the embedding is the embedding: the model is tied and stores it
        // once, unless the classifier is compressed, which makes it a matrix of its own.
        bool tied = c.TiedClassifier || TiedWeights.ClassifierCopiesEmbedding(checkpoint);
        var config = c with { TiedClassifier = tied && !compressClassifier };
        IReadOnlyList<CompressedLinearData> matrices = cache is null ? [.. blocks.SelectMany(b => b!)]
            : new StreamedMatrices(cache, [.. Enumerable.Range(0, parts).Select(l => PartMatrices(c, l).Count())]);
        return new CompressedModelContent
        {
            Config = config,
            Tokenizer = tokenizer,
            DenseTensors = DenseTensors.Of(checkpoint, config, Plan.EmbeddingStorage, classifier: !config.TiedClassifier && !compressClassifier),
            Matrices = matrices,
            Settings = Settings(calibration, matrices),
            SourceSha256 = sourceSha256,
            ToolVersion = ToolVersion,
        };
    }

    /// <summary>
    /// The classifier compressed like a block matrix, against the Hessian of the final norm's outputs; a tied model's
    /// classifier is the embedding's weights under the classifier's name.
    /// </summary>
    private CompressedLinearData CompressClassifier(ModelCheckpoint checkpoint, LayerwiseCalibrator calibrator, int? rank)
    {
        var h = RegularizedClassifierHessian(checkpoint, calibrator);
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return CompressMatrix(WeightsOf(checkpoint, TensorNames.Output), TensorNames.Output, h, Plan.Threads, rank);
    }

    /// <summary>The classifier's Hessian, regularized and in fp32; refused when the inputs that reach it are zero or not finite.</summary>
    private Matrix<float> RegularizedClassifierHessian(ModelCheckpoint checkpoint, LayerwiseCalibrator calibrator) =>
        RegularizedClassifierHessian(checkpoint, calibrator.ClassifierHessian());

    private Matrix<float> RegularizedClassifierHessian(ModelCheckpoint checkpoint, Hessian accumulator)
    {
        double trace = accumulator.SumTrace();
        if (!(trace > 0) || !double.IsFinite(trace))
            throw ModelFormatException.ForTensor(checkpoint.SourcePath, TensorNames.Output,
                $"the calibration inputs that reach it are {(double.IsFinite(trace) ? "all zero" : "not finite")}: " +
                "the checkpoint's weights before it (the final norm, the blocks, the embedding) are zero, NaN or infinite");
        return accumulator.RegularizedSingle(Plan.Decomposition.Regularization);
    }

    /// <summary>
    /// <paramref name="budget"/> split among the matrices to compress by what a rank is worth to each
    /// (<see cref="RankBudget.Allocate"/>): each matrix's output Fisher (<see cref="OutputFisher"/>, from the full-precision
    /// model's backward over <see cref="SensitivitySamples"/> calibration sequences), and a calibration pass of its own over
    /// every block (and the classifier, when it is compressed) that takes each matrix's <see cref="WeightedSpectrum"/> and
    /// drops the Hessians as it goes. Cached blocks take part too, so a resumed compression allocates what the first run did.
    /// </summary>
    /// <remarks>
    /// What a rank removes, in loss: the decomposition's error at rank k is about δ·Σ_{i&gt;k} σᵢ²(W·H^½), so the
    /// (k+1)-th rank lowers the KLD by about ½·F·δ·σ²_{k+1} (<see cref="OutputFisher"/>), with H the inputs' second moment
    /// (the regularized Hessian the decomposition reads is scaled to a mean diagonal of 1: its scale is put back) and δ,
    /// the 2-bit Q's relative error, alike for every matrix and left out. Each matrix's spectrum is read to the same depth
    /// whatever the budget (<see cref="MaxBudgetRank"/>), so the gains, and the order in which ranks are bought, do not
    /// depend on it: a larger budget buys a longer prefix of one order and never takes a rank away. The pass costs two
    /// forward passes and a backward of <see cref="SensitivitySamples"/> sequences (the block matrices read in place, the
    /// embedding and the classifier widened to fp32), a forward pass of <see cref="SpectrumSamples"/> sequences, and a
    /// Cholesky factor, a product W·C and a randomized SVD per matrix.
    /// </remarks>
    internal Dictionary<string, int> AllocateRanks(ModelCheckpoint checkpoint, CalibrationSet calibration, RankBudget budget, CancellationToken cancellation = default)
    {
        var c = checkpoint.Config;
        int factorBits = Plan.Decomposition.FactorBits;
        var fisher = OutputFisher.Measure(checkpoint, calibration.Every(SensitivitySamples), Plan.Threads, cancellation);
        var matrices = new List<BudgetedMatrix>();
        using (var calibrator = new LayerwiseCalibrator(checkpoint, calibration.Every(SpectrumSamples), Plan.Threads))
        {
            for (int l = 0; l < c.LayerCount; l++)
            {
                cancellation.ThrowIfCancellationRequested();
                var hessians = calibrator.Advance(captureHessians: true, cancellation)!;
                double[] scale = [.. Enum.GetValues<LinearInput>().Select(input => MeanDiagonal(hessians[input]))];
                var h = RegularizedHessians(checkpoint, l, hessians);
                foreach (var m in BlockMatrix.All)
                    matrices.Add(Budgeted(WeightsOf(checkpoint, m.Name(l)), m.Name(l), h[(int)m.Input]!, scale[(int)m.Input]));
                checkpoint.ReleaseResidentPages();
            }
            if (Plan.ClassifierStorage == ClassifierStorage.Caldera)
            {
                var accumulator = calibrator.ClassifierHessian();
                double scale = MeanDiagonal(accumulator);
                matrices.Add(Budgeted(WeightsOf(checkpoint, TensorNames.Output), TensorNames.Output, RegularizedClassifierHessian(checkpoint, accumulator), scale));
            }
        }
        int[] ranks = budget.Allocate(matrices, factorBits);
        return matrices.Select((m, i) => (m.Name, Rank: ranks[i])).ToDictionary(m => m.Name, m => m.Rank);

        // What each rank removes of the loss: ½·F·σ², σ² of W·H^½ with H at its own scale.
        BudgetedMatrix Budgeted(TensorView tensor, string name, Matrix<float> h, double hessianScale)
        {
            int depth = Math.Min(MaxBudgetRank, Math.Min(tensor.Rows, tensor.Columns));
            var w = new Matrix<float>(tensor.Rows, tensor.Columns, tensor.ToArray());
            double weight = 0.5 * fisher[name] * hessianScale;
            return new BudgetedMatrix(name, tensor.Rows, tensor.Columns, [.. WeightedSpectrum.Of(w, h, depth, Plan.Threads).Squares.Select(s => weight * s)]);
        }

        static double MeanDiagonal(Hessian accumulator) => accumulator.SumTrace() / accumulator.Count / accumulator.Dimension;
    }

    /// <summary>
    /// Calibration sequences the output Fisher is measured on (evenly spaced through the set): its per-matrix mean over
    /// 2,048 tokens at the default length; two forwards and a backward each.
    /// </summary>
    private const int SensitivitySamples = 16;

    /// <summary>
    /// The most ranks a bits budget gives one matrix, and how deep each spectrum is read: 256 ranks of 4-bit factors cost
    /// 2 bits per weight on a 2048×2048 matrix, more than a budget meant to stay near 2-bit spends on one matrix, and a
    /// randomized SVD of that depth costs about what the product W·C before it does at dim 2048.
    /// </summary>
    private const int MaxBudgetRank = 256;

    /// <summary>
    /// Calibration sequences the allocation's pass reads (evenly spaced through the set): the spectra's leading values need
    /// H's leading directions, not all of its tail, and accumulating the Hessians is most of that pass's time (in fp64,
    /// Σ x·xᵀ over every token). A quarter of the default 128.
    /// </summary>
    private const int SpectrumSamples = 32;

    /// <summary>The tensor part <paramref name="part"/> compresses: a block's seven matrices, or the classifier.</summary>
    private static IEnumerable<string> PartMatrices(LlamaConfig c, int part) =>
        part < c.LayerCount ? BlockMatrix.All.Select(m => m.Name(part)) : [TensorNames.Output];

    /// <summary>Tensor <paramref name="name"/>, where the classifier of a tied checkpoint is its embedding.</summary>
    private static TensorView WeightsOf(ModelCheckpoint checkpoint, string name) =>
        name == TensorNames.Output && !checkpoint.Tensors.ContainsKey(TensorNames.Output)
            ? checkpoint.Tensor(TensorNames.TokenEmbedding) : checkpoint.Tensor(name);

    /// <param name="ranks">Each matrix's rank from a bits budget; null: the plan's rank.</param>
    private CompressedLinearData[] CompressBlock(ModelCheckpoint checkpoint, int layer, LayerHessians hessians, IReadOnlyDictionary<string, int>? ranks,
        Reporter reporter, CancellationToken cancellation)
    {
        var matrices = BlockMatrix.All;
        // H per input, regularized and in fp32, shared by the matrices that read it (q/k/v, gate/up) and dropped
        // after the last of them. The previous block's Hessians, weights and decomposition buffers are large-object
        // garbage by now; one full collection per block keeps the footprint at one block's worth instead of whatever
        // the GC's budget lets pile up.
        var h = RegularizedHessians(checkpoint, layer, hessians);
        int[] readers = new int[h.Length];
        foreach (var m in matrices) readers[(int)m.Input]++;
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);

        int parallel = Math.Min(Plan.ParallelMatrices, matrices.Count);
        int threads = Math.Max(1, Plan.Threads / parallel);
        var results = new CompressedLinearData[matrices.Count];
        Parallel.For(0, matrices.Count, new ParallelOptions { MaxDegreeOfParallelism = parallel, CancellationToken = cancellation }, i =>
        {
            var m = matrices[i];
            var input = h[(int)m.Input]!;
            results[i] = CompressMatrix(checkpoint.Tensor(m.Name(layer)), m.Name(layer), input, threads, ranks?[m.Name(layer)]);
            if (Interlocked.Decrement(ref readers[(int)m.Input]) == 0) h[(int)m.Input] = null;
            reporter.MatrixDone(layer, m.Short, results[i].RelativeError, (long)results[i].Rows * results[i].Columns);
        });
        return results;
    }

    /// <summary>
    /// Compresses tensor <paramref name="name"/> with <paramref name="h"/>, its input's regularized fp32 Hessian
    /// (<see cref="Hessian.RegularizedSingle"/>), and sketches its spectrum.
    /// </summary>
    /// <param name="steps">Each outer-loop step of the decomposition, as it ends (CALDERA only).</param>
    internal CompressedLinearData CompressMatrix(ModelCheckpoint checkpoint, string name, Matrix<float> h, int threads,
        IProgress<CalderaStep>? steps = null) =>
        CompressMatrix(checkpoint.Tensor(name), name, h, threads, rank: null, steps);

    /// <param name="rank">The rank a bits budget gave this matrix; null: the plan's.</param>
    /// <remarks>
    /// W is read from the mapped checkpoint each time it is needed (the search, the error, the spectrum) rather than held
    /// through the decomposition: reading it again costs a conversion to fp32, holding it 4·m·n bytes at the search's peak.
    /// </remarks>
    private CompressedLinearData CompressMatrix(TensorView tensor, string name, Matrix<float> h, int threads, int? rank,
        IProgress<CalderaStep>? steps = null)
    {
        Matrix<float> ReadWeights() => new(tensor.Rows, tensor.Columns, tensor.ToArray());
        CompressedMatrix compressed;
        try
        {
            compressed = Plan.Method == CompressionMethod.Rtn
                ? RoundToNearest.CompressRegularized(ReadWeights(), h, Plan.RtnBits, threads)
                : CalderaDecomposer.DecomposeRegularized(ReadWeights, h, DecompositionFor(threads, rank), steps);
        }
        catch (Exception e) when (e is ArithmeticException or InvalidOperationException or ArgumentException)
        {
            throw new InvalidOperationException($"{name}: {e.Message}", e);
        }
        return compressed.ToLinearData(name) with { Spectrum = SpectrumSketch.Of(ReadWeights(), compressed, threads) };
    }

    private CalderaOptions DecompositionFor(int threads, int? rank)
    {
        var d = Plan.EffectiveDecomposition(threads);
        return rank is { } r && Plan.Method == CompressionMethod.Caldera ? d with { Rank = r } : d;
    }

    /// <summary>
    /// The block's four Hessians, regularized and in fp32, indexed by <see cref="LinearInput"/>. Calibration inputs
    /// that are all zero or not finite (what zeroed or huge norms and earlier weights produce; the readers already
    /// refuse NaN and infinite weights) cannot be compressed: that is the checkpoint's fault, said before the
    /// decomposition fails on it, naming the first matrix that reads them.
    /// </summary>
    internal Matrix<float>?[] RegularizedHessians(ModelCheckpoint checkpoint, int layer, LayerHessians hessians) =>
        hessians.ReleaseRegularized(Plan.Decomposition.Regularization, (input, accumulator) =>
        {
            double trace = accumulator.SumTrace();
            if (!(trace > 0) || !double.IsFinite(trace))
                throw ModelFormatException.ForTensor(checkpoint.SourcePath, BlockMatrix.All.First(m => m.Input == input).Name(layer),
                    $"the calibration inputs that reach it are {(double.IsFinite(trace) ? "all zero" : "not finite")}: " +
                    "the checkpoint's weights before it (norms, earlier blocks, the embedding) are zero, NaN or infinite");
        });

    /// <param name="matrices">With a bits budget, the rank recorded is the largest any matrix got (each stores its own).</param>
    private CompressionSettings Settings(CalibrationSet calibration, IEnumerable<CompressedLinearData> matrices)
    {
        var d = Plan.EffectiveDecomposition(1);
        bool lattice = Plan.Method != CompressionMethod.Rtn;
        return new CompressionSettings
        {
            Method = Plan.MethodName,
            Rank = Plan.Budget is null ? d.Rank : matrices.Max(m => m.Rank),
            QBits = Plan.QBits,
            FactorBits = d.Rank > 0 ? d.FactorBits : 0,
            Preset = Plan.Preset,
            OuterIterations = lattice ? d.OuterIterations : 0,
            InnerIterations = lattice && d.Rank > 0 ? d.InnerIterations : 0,
            RefinementSweeps = lattice ? d.RefinementSweeps : 0,
            RandomizedHadamard = lattice && d.RandomizedHadamard,
            HessianDowndate = lattice && d.Rank > 0 && d.HessianDowndate,
            Regularization = d.Regularization,
            Seed = lattice ? d.Seed : 0,
            Calibration = calibration.Description,
            CalibrationSamples = calibration.Samples,
            CalibrationSequenceLength = calibration.SequenceLength,
        };
    }

    /// <summary>Whether a cached part holds exactly this part's matrices (a block's seven, or the classifier) with the checkpoint's shapes.</summary>
    private static bool Fits(ModelCheckpoint checkpoint, int part, IReadOnlyList<CompressedLinearData> cached)
    {
        string[] names = [.. PartMatrices(checkpoint.Config, part)];
        if (cached.Count != names.Length) return false;
        for (int i = 0; i < cached.Count; i++)
        {
            var t = WeightsOf(checkpoint, names[i]);
            if (cached[i].Name != names[i] || cached[i].Rows != t.Rows || cached[i].Columns != t.Columns) return false;
        }
        return true;
    }

    /// <summary>Serializes progress reports (matrices finish on several threads) and estimates the time left.</summary>
    private sealed class Reporter(IProgress<CompressionProgress>? progress, int layerCount, Stopwatch clock)
    {
        private readonly object _gate = new();
        private long _weightsDone;

        public long WeightsLeft { get; set; }

        public void MatrixDone(int layer, string matrix, double error, long weights)
        {
            lock (_gate)
            {
                _weightsDone += weights;
                WeightsLeft -= weights;
                Report(CompressionEvent.MatrixCompressed, layer, matrix, error);
            }
        }

        public void Report(CompressionEvent e, int layer, string? matrix, double error, string? note = null)
        {
            lock (_gate)
            {
                var elapsed = clock.Elapsed;
                TimeSpan? remaining = _weightsDone == 0 ? null : elapsed * ((double)WeightsLeft / _weightsDone);
                progress?.Report(new CompressionProgress(e, layer, layerCount, matrix, error, elapsed, remaining, note));
            }
        }
    }
}
