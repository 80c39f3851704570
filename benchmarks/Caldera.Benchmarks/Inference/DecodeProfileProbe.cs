using System.Diagnostics;
using System.Runtime.Intrinsics.X86;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Kernels;

namespace Caldera.Benchmarks.Inference;

/// <summary>
/// A long decode loop on <see cref="SyntheticCompressedLlama"/> for a sampling profiler, not a benchmark: it prefills
/// 64 tokens, then decodes [tokens] tokens (default 200) at positions 64.. with the float or the int8 Q pass and
/// prints the best and the median milliseconds per token (`int8-classifier`: the int8 Q pass and the int8 classifier;
/// `int6-classifier`: the int8 Q pass and the 6-bit classifier; `classifier-ab`: int8 and int8-classifier interleaved token
/// by token in one process; `classifier6-ab`: int8-classifier and int6-classifier interleaved).
/// Profile it with perf and the runtime's perf map:
///   DOTNET_PerfMapEnabled=1 perf record -F 2000 -g -- dotnet benchmarks/Caldera.Benchmarks/bin/Release/net10.0/Caldera.Benchmarks.dll decode-profile int8 200
/// The breakdown it gave is in benchmarks/README.md. `decode-profile qpass` times the int8 Q pass of one 2048² matrix
/// alone (min of 40 calls) in ns per code word, cache-resident and streamed over 48 matrices as in the model; `lowrank` and `factor` time L·t and R·u of a 2048-wide rank-64 matrix;
/// `classifier [threads]` times the 32000×2048 classifier in F16 and as its int8 and 6-bit copies, interleaved; `prefill [threads] [float|int8]` times pp64 (int8: the product default); `layer` times one int8 decode step of layer 0's up and down matrices at 1 and 2 threads.
/// </summary>
internal static class DecodeProfileProbe
{
    private const int PromptTokens = 64;

    public static void Run(string[] args)
    {
        if (args is ["qpass", ..])
        {
            QPass();
            return;
        }
        if (args is ["lowrank", ..])
        {
            LowRank();
            return;
        }
        if (args is ["factor", ..])
        {
            Factor();
            return;
        }
        if (args is ["prefill", ..])
        {
            Prefill(args.Length > 1 ? int.Parse(args[1]) : 1, args.Length > 2 && args[2] == "int8");
            return;
        }
        if (args is ["layer", ..])
        {
            Layer();
            return;
        }
        if (args is ["classifier", ..])
        {
            Classifier(args.Length > 1 ? int.Parse(args[1]) : 1);
            return;
        }
        string mode = args.Length > 0 ? args[0] : "float";
        int tokens = args.Length > 1 ? int.Parse(args[1]) : 200;
        int threads = args.Length > 2 ? int.Parse(args[2]) : 1;
        var options = new TransformerOptions { Threads = threads, ContextLength = PromptTokens + tokens, PrefillBatchSize = PromptTokens };
        var int8 = options with { Int8Activations = true };
        var int8Classifier = int8 with { ClassifierPrecision = ClassifierPrecision.Int8 };
        var int6Classifier = int8 with { ClassifierPrecision = ClassifierPrecision.Int6 };
        // classifier-ab decodes each token with both int8 variants in turn, so both see the same load on a shared machine.
        (string Name, TransformerOptions Options)[] variants = mode switch
        {
            "int8" => [("int8", int8)],
            "int8-classifier" => [("int8-classifier", int8Classifier)],
            "int6-classifier" => [("int6-classifier", int6Classifier)],
            "classifier-ab" => [("int8", int8), ("int8-classifier", int8Classifier)],
            "classifier6-ab" => [("int8-classifier", int8Classifier), ("int6-classifier", int6Classifier)],
            _ => [("float", options)],
        };
        var content = SyntheticCompressedLlama.Build();
        using var weights = new CompressedModelWeights(content, "synthetic-caldera-2048d");
        var transformers = variants.Select(v => new Transformer(content.Config, binding => weights.Bind(binding), v.Options)).ToArray();
        foreach (var transformer in transformers) transformer.Prefill(Enumerable.Range(1, PromptTokens).ToArray(), 0);
        var times = new double[variants.Length, tokens];
        for (int i = 0; i < tokens; i++)
            for (int k = 0; k < transformers.Length; k++)
            {
                long start = Stopwatch.GetTimestamp();
                transformers[k].Decode(100 + i % 1000, PromptTokens + i);
                times[k, i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
        for (int k = 0; k < variants.Length; k++)
        {
            var sorted = Enumerable.Range(0, tokens).Select(i => times[k, i]).Order().ToArray();
            Console.WriteLine($"{variants[k].Name} decode, {threads} thread(s): best {sorted[0]:F2} ms, median {sorted[tokens / 2]:F2} ms per token over {tokens} tokens");
            transformers[k].Dispose();
        }
    }

    /// <summary>pp64 on the synthetic model: the best of 10 prefills of 64 tokens at position 0, in tokens per second (float, or the product default: int8 arithmetic, 6-bit classifier).</summary>
    private static void Prefill(int threads, bool int8)
    {
        var content = SyntheticCompressedLlama.Build();
        using var weights = new CompressedModelWeights(content, "synthetic-caldera-2048d");
        using var transformer = new Transformer(content.Config, binding => weights.Bind(binding), new TransformerOptions
        {
            Threads = threads, ContextLength = PromptTokens, PrefillBatchSize = PromptTokens, Int8Activations = int8,
            ClassifierPrecision = int8 ? ClassifierPrecision.Int6 : ClassifierPrecision.Stored,
        });
        var prompt = Enumerable.Range(1, PromptTokens).ToArray();
        double best = double.MaxValue;
        for (int i = 0; i < 10; i++)
        {
            long start = Stopwatch.GetTimestamp();
            transformer.Prefill(prompt, 0);
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        Console.WriteLine($"{(int8 ? "int8" : "float")} prefill of {PromptTokens} tokens, {threads} thread(s): best {best:F1} ms = {PromptTokens / best * 1000:F1} tokens/s (of 10)");
    }

    /// <summary>One int8 decode step of layer 0's up (5632×2048) and down (2048×5632) matrices at 1 and 2 threads, min of 200: how one matrix scales.</summary>
    private static void Layer()
    {
        var content = SyntheticCompressedLlama.Build();
        using var weights = new CompressedModelWeights(content, "synthetic-caldera-2048d");
        foreach (int threads in new[] { 1, 2 })
        {
            using var pool = new WorkerPool(threads);
            var bound = weights.Bind(new LinearBinding(pool, int8Activations: true));
            foreach (var (name, matrix) in new[] { ("up", bound.Layers[0].Up), ("down", bound.Layers[0].Down) })
            {
                var x = new float[matrix.InputDim];
                for (int i = 0; i < x.Length; i++) x[i] = MathF.Sin(i);
                var y = new float[matrix.OutputDim];
                double best = double.MaxValue;
                for (int i = 0; i < 200; i++)
                {
                    long start = Stopwatch.GetTimestamp();
                    matrix.Apply(x, y);
                    best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalMicroseconds);
                }
                Console.WriteLine($"{name} {matrix.OutputDim}x{matrix.InputDim}, int8 decode step, {threads} thread(s): {best:F1} µs (min of 200)");
            }
        }
    }

    private static void QPass()
    {
        const int n = 2048, rows = 2048;
        var random = new Random(6);
        var words = RandomWords(random, rows * n / 8);
        var (_, q, scales) = RandomActivation(random, n);
        var y = new float[rows];
        var matrices = new ushort[48][];
        for (int l = 0; l < matrices.Length; l++) matrices[l] = RandomWords(random, words.Length);
        // Every path this machine runs: the table-gather AVX2 and VNNI passes beside the register decode.
        foreach (var path in new[] { Int8CodedRows.Path.Avx2, Int8CodedRows.Path.AvxVnni, Int8CodedRows.Path.Avx512Vbmi })
        {
            if (path > Int8CodedRows.Best || path == Int8CodedRows.Path.AvxVnni && !AvxVnni.IsSupported) continue;
            double best = double.MaxValue;
            for (int i = 0; i < 40; i++)
            {
                long start = Stopwatch.GetTimestamp();
                Int8CodedRows.DotE8PRows(words, q, scales, y, path);
                best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalNanoseconds);
            }
            Console.WriteLine($"int8 Q pass ({path}), 2048x2048: {best / words.Length:F3} ns per word (min of 40)");

            // The same pass over 48 such matrices in turn (96 MiB of words, more than L3): the words stream from memory
            // and evict the codeword table from L2, as they do in the model.
            best = double.MaxValue;
            for (int i = 0; i < 10; i++)
            {
                long start = Stopwatch.GetTimestamp();
                foreach (var matrix in matrices) Int8CodedRows.DotE8PRows(matrix, q, scales, y, path);
                best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalNanoseconds);
            }
            Console.WriteLine($"int8 Q pass ({path}), 48 matrices 2048x2048 streamed: {best / (words.Length * (double)matrices.Length):F3} ns per word (min of 10)");
        }
    }

    /// <summary>
    /// The synthetic model's classifier (32000×2048 F16, 131 MB; int8: 73.7 MB; 6-bit: 53.2 MB) one token at a time, the
    /// three interleaved so all see the same load: best and median of 40 calls each, and the rate at which the best
    /// streams; then each integer kernel on rows that stay in L2, on every path this machine runs.
    /// </summary>
    private static void Classifier(int threads)
    {
        using var checkpoint = SyntheticLlama.Build(config: SyntheticLlama.Config with { LayerCount = 1, HiddenDim = 256 });
        using var pool = new WorkerPool(threads);
        var weight = checkpoint.Tensor(Caldera.Runtime.Model.TensorNames.Output);
        ILinear[] classifiers = [new DenseLinear(weight, pool), new Int8DenseLinear(weight, pool), new Int6DenseLinear(weight, pool)];
        string[] names = ["F16", "int8", "int6"];
        long[] bytes =
        [
            weight.ByteLength,
            (long)weight.Rows * (Int8Blocks.PaddedLength(weight.Columns) + Int8Blocks.BlockCount(weight.Columns) * sizeof(float)),
            (long)weight.Rows * (Int6Blocks.RowBytes(weight.Columns) + Int6Blocks.BlockCount(weight.Columns) * sizeof(ushort)),
        ];
        var x = new float[weight.Columns];
        var random = new Random(9);
        for (int i = 0; i < x.Length; i++) x[i] = random.NextSingle() * 2 - 1;
        var y = new float[weight.Rows];
        const int calls = 40;
        var times = new double[classifiers.Length, calls];
        for (int i = 0; i < calls; i++)
            for (int k = 0; k < classifiers.Length; k++)
            {
                long start = Stopwatch.GetTimestamp();
                classifiers[k].Apply(x, y);
                times[k, i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
        for (int k = 0; k < classifiers.Length; k++)
        {
            var sorted = Enumerable.Range(0, calls).Select(i => times[k, i]).Order().ToArray();
            Console.WriteLine($"classifier 32000x2048 {names[k]}, {threads} thread(s): best {sorted[0]:F2} ms, median {sorted[calls / 2]:F2} ms ({bytes[k] / sorted[0] / 1e6:F1} GB/s at best)");
        }

        // The integer kernels on 256 rows that stay in L2 (int8 576 KiB, 6-bit 416 KiB): what they cost when memory is not the bound.
        const int rows = 256, columns = 2048;
        var w = new float[rows * columns];
        for (int i = 0; i < w.Length; i++) w[i] = random.NextSingle() * 2 - 1;
        int rowBytes = (int)Int6Blocks.RowBytes(columns), blocks6 = Int6Blocks.BlockCount(columns), blocks8 = Int8Blocks.BlockCount(columns);
        var levels = new sbyte[rows * columns];
        var levelScales = new float[rows * blocks8];
        var planes = new byte[rows * rowBytes];
        var planeScales = new ushort[rows * blocks6];
        for (int r = 0; r < rows; r++)
        {
            Int8Blocks.Quantize(w.AsSpan(r * columns, columns), levels.AsSpan(r * columns, columns), levelScales.AsSpan(r * blocks8, blocks8));
            Int6Blocks.QuantizeRow(w.AsSpan(r * columns, columns), planes.AsSpan(r * rowBytes, rowBytes), planeScales.AsSpan(r * blocks6, blocks6));
        }
        var q8 = new sbyte[columns];
        var q8Scales = new float[blocks8];
        Int8Blocks.Quantize(x, q8, q8Scales);
        var q6 = new sbyte[Int6Blocks.PaddedLength(columns)];
        var q6Scales = new float[blocks6];
        var q6Offsets = new int[blocks6];
        Int6Blocks.QuantizeInput(x, q6, q6Scales, q6Offsets);
        foreach (var path in new[] { Int8CodedRows.Path.Avx2, Int8CodedRows.Path.AvxVnni, Int8CodedRows.Path.Avx512Vbmi })
        {
            if (path > Int8CodedRows.Best) continue;
            double cached8 = double.MaxValue, cached6 = double.MaxValue;
            for (int i = 0; i < 200; i++)
            {
                long start = Stopwatch.GetTimestamp();
                Int8BlockRows.DotRows(levels, levelScales, q8, q8Scales, y.AsSpan(0, rows), path);
                cached8 = Math.Min(cached8, Stopwatch.GetElapsedTime(start).TotalNanoseconds);
                start = Stopwatch.GetTimestamp();
                Int6BlockRows.DotRows(planes, planeScales, q6, q6Scales, q6Offsets, y.AsSpan(0, rows), path);
                cached6 = Math.Min(cached6, Stopwatch.GetElapsedTime(start).TotalNanoseconds);
            }
            Console.WriteLine($"{path}, 256x2048 cache-resident (min of 200): int8 {cached8 / rows:F1} ns per row ({cached8 / rows * weight.Rows / 1e6:F2} ms for 32000 rows), " +
                $"int6 {cached6 / rows:F1} ns per row ({cached6 / rows * weight.Rows / 1e6:F2} ms){(path == Int8CodedRows.Best ? " <- used" : "")}");
        }
    }

    /// <summary>L·t of a 2048-row matrix at rank 64 in blocks of 256 rows: one axpy per rank against all ranks at once.</summary>
    private static void LowRank()
    {
        const int rows = 2048, rank = 64, block = 256;
        var random = new Random(7);
        int rowWords = Caldera.Runtime.Compression.E8PResidualLattice.WordCount(rows), blockWords = Caldera.Runtime.Compression.E8PResidualLattice.WordCount(block);
        var words = RandomWords(random, rank * rowWords);
        var a = new float[rank];
        for (int r = 0; r < rank; r++) a[r] = random.NextSingle() - 0.5f;
        var z = new float[rows];
        double perRank = double.MaxValue, allRanks = double.MaxValue;
        for (int i = 0; i < 200; i++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int b = 0; b < rows; b += block)
                for (int r = 0; r < rank; r++)
                    CodedRows.AddResidual(words.AsSpan(r * rowWords + b / 4, blockWords), a[r], z.AsSpan(b, block));
            perRank = Math.Min(perRank, Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            start = Stopwatch.GetTimestamp();
            for (int b = 0; b < rows; b += block)
                ResidualRanks.Add(words.AsSpan(b / 4, (rank - 1) * rowWords + blockWords), rowWords, a, z.AsSpan(b, block));
            allRanks = Math.Min(allRanks, Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        }
        Console.WriteLine($"L·t, 2048 rows, rank 64: {perRank:F1} µs one axpy per rank, {allRanks:F1} µs all ranks at once (min of 200)");
    }

    /// <summary>R·u of a 2048-column matrix at rank 64: the float kernel per row against the int8 one.</summary>
    private static void Factor()
    {
        const int n = 2048, rank = 64;
        var random = new Random(8);
        int rowWords = Caldera.Runtime.Compression.E8PResidualLattice.WordCount(n);
        var words = RandomWords(random, rank * rowWords);
        var (u, q, scales) = RandomActivation(random, n);
        var t = new float[rank];
        double single = double.MaxValue, int8 = double.MaxValue;
        for (int i = 0; i < 200; i++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int r = 0; r < rank; r++) t[r] = CodedRows.DotResidual(words.AsSpan(r * rowWords, rowWords), u);
            single = Math.Min(single, Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            start = Stopwatch.GetTimestamp();
            Int8ResidualRows.DotRows(words, q, scales, t);
            int8 = Math.Min(int8, Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        }
        Console.WriteLine($"R·u, 2048 columns, rank 64: {single:F1} µs float, {int8:F1} µs int8 (min of 200)");
    }

    /// <summary>Random code words: every 16-bit word is a valid E8P code, and speed does not depend on which.</summary>
    private static ushort[] RandomWords(Random random, int count)
    {
        var words = new ushort[count];
        for (int i = 0; i < count; i++) words[i] = (ushort)random.Next(1 << 16);
        return words;
    }

    /// <summary>A random activation u of length n and its int8 form (levels q, block scales).</summary>
    private static (float[] U, sbyte[] Q, float[] Scales) RandomActivation(Random random, int n)
    {
        var u = new float[n];
        for (int i = 0; i < n; i++) u[i] = random.NextSingle() - 0.5f;
        var q = new sbyte[Int8Activations.PaddedLength(n)];
        var scales = new float[Int8Activations.BlockCount(n)];
        Int8Activations.Quantize(u, q, scales);
        return (u, q, scales);
    }
}
