using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Caldera.Runtime.Hosting;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Sampling;
using Caldera.CompilerServices;

namespace Caldera.Benchmarks.Inference;

/// <summary>
/// Concurrent sessions on <see cref="SyntheticCompressedLlama"/> through the <see cref="SessionScheduler"/>, as
/// <c>CalderaModel</c> runs them (int8 arithmetic, 6-bit classifier): for each session count S, S turns start at once, each
/// with its own 32-token prompt, and each generates [tokens] tokens greedily (no end-of-sequence: the random model
/// would stop anywhere). Prints the aggregate generated tokens/s (all tokens over the wall time from the start to the
/// last token), the time to first token (median and worst over the sessions), and the p50/p95 time between a
/// session's tokens, over all sessions' tokens; tokens are timed where the scheduler makes them. `sessions steps [threads]`
/// times one <see cref="Transformer.DecodeSteps"/> call of 1, 2, 4 and 8 sequences, one 5632×2048 matrix as one token,
/// 8 decode steps and a prefill batch of 8 (with and without its factors), and its Q kernels alone for 8 tokens;
/// `sessions profile [threads] [S] [calls]` repeats one call of S sequences for a profiler; `sessions kernels [calls]`
/// times the batch kernels against the one-token ones (<see cref="BatchKernelsProbe"/>).
///   dotnet benchmarks/Caldera.Benchmarks/bin/Release/net10.0/Caldera.Benchmarks.dll sessions [threads] [tokens] [S…]
/// </summary>
internal static class SessionsProbe
{
    private const int PromptTokens = 32;

    public static void Run(string[] args)
    {
        if (args is ["steps", ..])
        {
            Steps(args.Length > 1 ? int.Parse(args[1]) : 2);
            return;
        }
        if (args is ["kernels", ..])
        {
            BatchKernelsProbe.Run(args.Length > 1 ? int.Parse(args[1]) : 200);
            return;
        }
        if (args is ["profile", ..])
        {
            Profile(args.Length > 1 ? int.Parse(args[1]) : 2, args.Length > 2 ? int.Parse(args[2]) : 8, args.Length > 3 ? int.Parse(args[3]) : 200);
            return;
        }
        int threads = args.Length > 0 ? int.Parse(args[0]) : 2;
        int tokens = args.Length > 1 ? int.Parse(args[1]) : 64;
        int[] counts = args.Length > 2 ? [.. args[2..].Select(int.Parse)] : [1, 2, 4, 8];
        var content = SyntheticCompressedLlama.Build();
        using var weights = new CompressedModelWeights(content);
        var transformer = new Transformer(content.Config, binding => weights.Bind(binding), new TransformerOptions
        {
            Threads = threads, ContextLength = PromptTokens + tokens, Int8Activations = true, ClassifierPrecision = ClassifierPrecision.Int6,
            DecodeStepsBatchSize = counts.Max(),
        });
        using var scheduler = new SessionScheduler(transformer, () => { });
        Console.WriteLine($"threads {threads}, {PromptTokens}-token prompts, {tokens} generated tokens per session");
        Console.WriteLine("| sessions | aggregate tok/s | TTFT median / worst (ms) | time per token p50 / p95 (ms) |");
        Console.WriteLine("|---:|---:|---:|---:|");
        Measure(scheduler, content.Config.VocabSize, 1, 8); // warm-up: JIT and the first cache growth
        foreach (int sessions in counts)
        {
            var (aggregate, ttft, gaps) = Measure(scheduler, content.Config.VocabSize, sessions, tokens);
            Array.Sort(ttft);
            Array.Sort(gaps);
            Console.WriteLine($"| {sessions} | {aggregate:F2} | {ttft[ttft.Length / 2]:F0} / {ttft[^1]:F0} | {Percentile(gaps, 0.5):F1} / {Percentile(gaps, 0.95):F1} |");
        }
    }

    private static (double Aggregate, double[] Ttft, double[] Gaps) Measure(SessionScheduler scheduler, int vocab, int sessions, int tokens)
    {
        var random = new Random(sessions);
        var turns = new SessionTurn[sessions];
        for (int i = 0; i < sessions; i++)
        {
            int[] prompt = [.. Enumerable.Range(0, PromptTokens).Select(_ => random.Next(vocab))];
            var history = new SessionHistory(scheduler.Transformer.NewCache());
            turns[i] = new SessionTurn(history, prompt, 0, tokens, new Sampler(vocab, new SamplingOptions { Temperature = 0 }), _ => false, "synthetic")
            {
                TokenTimes = new List<long>(tokens),
            };
        }
        long start = Stopwatch.GetTimestamp();
        foreach (var turn in turns) scheduler.Add(turn);
        foreach (var turn in turns) turn.Retired.Wait();
        var times = turns.Select(turn => turn.TokenTimes!).ToArray();
        long end = times.Max(t => t[^1]);
        double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
        double[] ttft = [.. times.Select(t => Ms(t[0] - start))];
        double[] gaps = [.. times.SelectMany(t => t.Zip(t.Skip(1), (a, b) => Ms(b - a)))];
        return (sessions * tokens / (Ms(end - start) / 1000), ttft, gaps);
    }

    /// <summary>
    /// One <see cref="Transformer.DecodeSteps"/> call of S sequences at position 64, S = 1, 2, 4, 8 interleaved so all
    /// see the same load; prints the best and the median of 15 calls per S and the tokens/s each gives.
    /// </summary>
    private static void Steps(int threads)
    {
        var content = SyntheticCompressedLlama.Build();
        using var weights = new CompressedModelWeights(content);
        int[] counts = [1, 2, 4, 8];
        using var transformer = new Transformer(content.Config, binding => weights.Bind(binding), new TransformerOptions
        {
            Threads = threads, ContextLength = 128, Int8Activations = true, ClassifierPrecision = ClassifierPrecision.Int6, DecodeStepsBatchSize = 8,
        });
        var caches = Enumerable.Range(0, 8).Select(_ => transformer.NewCache()).ToArray();
        int[] prompt = [.. Enumerable.Range(1, 64)];
        foreach (var cache in caches) transformer.Prefill(cache, prompt, 0);
        var logits = new float[8 * content.Config.VocabSize];
        var times = counts.ToDictionary(n => n, _ => new List<double>());
        int[] positions = [.. Enumerable.Repeat(64, 8)];
        for (int round = 0; round < 16; round++)
            foreach (int n in counts)
            {
                long start = Stopwatch.GetTimestamp();
                transformer.DecodeSteps(prompt.AsSpan(0, n), positions, caches, logits.AsSpan(0, n * content.Config.VocabSize));
                if (round > 0) times[n].Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        var prefill = new List<double>();
        for (int round = 0; round < 6; round++)
        {
            long start = Stopwatch.GetTimestamp();
            transformer.Prefill(caches[0], prompt.AsSpan(0, 8), 64);
            prefill.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        Console.WriteLine($"prefill of 8 tokens (one sequence), best: {prefill.Min():F1} ms");
        {
            var matrix = content.Matrices.First(m => m.Rows == 5632);
            using var pool = new WorkerPool(threads);
            var linear = new CompressedLinear(matrix, pool, new CompressedLinearScratch(), GenericRowKernels.Best, int8Activations: true);
            var x = new float[8 * matrix.Columns];
            new Random(1).NextSingle();
            for (int i = 0; i < x.Length; i++) x[i] = (i * 7919 % 1000) / 1000f - 0.5f;
            var y = new float[8 * matrix.Rows];
            double Best(Action run) { double best = double.MaxValue; for (int r = 0; r < 40; r++) { long t0 = Stopwatch.GetTimestamp(); run(); best = Math.Min(best, Stopwatch.GetElapsedTime(t0).TotalMilliseconds); } return best; }
            double one = Best(() => linear.Apply(x.AsSpan(0, matrix.Columns), y.AsSpan(0, matrix.Rows)));
            double steps = Best(() => linear.ApplyDecodeSteps(x, y, 8));
            double batch = Best(() => linear.ApplyBatch(x, y, 8));
            Console.WriteLine($"{matrix.Name} {matrix.Rows}x{matrix.Columns}: one token {one:F2} ms, 8 decode steps {steps:F2} ms, a batch of 8 {batch:F2} ms");
            var q = new CompressedLinear(matrix with { Rank = 0, LTransposedCodes = Array.Empty<ushort>(), RCodes = Array.Empty<ushort>() }, pool, new CompressedLinearScratch(), GenericRowKernels.Best, int8Activations: true);
            {
                // The Q kernels alone, one thread: the one-token kernel per token against the register tile for 8 tokens.
                int columns = matrix.Columns, padded = Caldera.Runtime.Kernels.Int8Activations.PaddedLength(columns);
                int blocks = Caldera.Runtime.Kernels.Int8Activations.BlockCount(columns);
                var levels = new sbyte[8 * padded];
                var scales = new float[8 * blocks];
                var majors = new sbyte[8 * padded];
                for (int t = 0; t < 8; t++)
                {
                    Caldera.Runtime.Kernels.Int8Activations.Quantize(x.AsSpan(t * columns, columns), levels.AsSpan(t * padded, padded), scales.AsSpan(t * blocks, blocks));
                    Caldera.Runtime.Kernels.Int8CodedTile.LayOut(levels.AsSpan(t * padded, padded), majors.AsSpan(t * padded, padded));
                }
                var words = matrix.QCodes.Span;
                var scratch = new byte[Caldera.Runtime.Kernels.Int8CodedTile.ScratchLength(columns, 8)];
                var path = Caldera.Runtime.Kernels.Int8CodedRows.Best;
                double oneToken = Best(() =>
                {
                    for (int t = 0; t < 8; t++)
                        Caldera.Runtime.Kernels.Int8CodedRows.DotE8PRows(matrix.QCodes.Span, levels.AsSpan(t * padded, padded), scales.AsSpan(t * blocks, blocks), y.AsSpan(t * matrix.Rows, matrix.Rows), path);
                });
                double tile = Best(() => Caldera.Runtime.Kernels.Int8CodedTile.DotE8PRows(matrix.QCodes.Span, matrix.Rows, levels, majors, scales, 8, y, matrix.Rows, scratch, path));
                // The tile's floor: per row, token and 512 weights, eight vpmaddubsw and one vpmaddwd, which share the multipliers.
                double multiplyAdd = MultiplyAddNanoseconds(), bound = (double)matrix.Rows * (padded / 512) * 8 * 9 * multiplyAdd / 1e6;
                Console.WriteLine($"Q kernels, one thread, 8 tokens: one-token kernel ×8 {oneToken:F2} ms, register tile {tile:F2} ms, " +
                    $"its multiply bound {bound:F2} ms ({multiplyAdd:F3} ns per 512-bit vpmaddubsw)");
            }
            Console.WriteLine($"Q only: one token {Best(() => q.Apply(x.AsSpan(0, matrix.Columns), y.AsSpan(0, matrix.Rows))):F2} ms, 8 decode steps {Best(() => q.ApplyDecodeSteps(x, y, 8)):F2} ms, a batch of 8 {Best(() => q.ApplyBatch(x, y, 8)):F2} ms");
        }
        Console.WriteLine($"threads {threads}: one batch of decode steps at position 64");
        Console.WriteLine("| sessions | ms per step, best / median | tok/s at the best / median |");
        Console.WriteLine("|---:|---:|---:|");
        foreach (int n in counts)
        {
            var t = times[n].Order().ToArray();
            Console.WriteLine($"| {n} | {t[0]:F1} / {t[t.Length / 2]:F1} | {n * 1000 / t[0]:F0} / {n * 1000 / t[t.Length / 2]:F0} |");
        }
    }

    /// <summary>
    /// Nanoseconds per 512-bit vpmaddubsw at full throughput (eight independent accumulators, operands in L1): the cost
    /// of 64 int8 multiply-adds, best of three runs.
    /// </summary>
    private static unsafe double MultiplyAddNanoseconds()
    {
        if (!Avx512BW.IsSupported) return double.NaN;
        var data = new byte[576];
        new Random(5).NextBytes(data);
        double best = double.MaxValue;
        fixed (byte* p = data)
            for (int run = 0; run < 3; run++)
            {
                const long Iterations = 20_000_000;
                long start = Stopwatch.GetTimestamp();
                Sink = MultiplyAdds(p, Iterations);
                best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalNanoseconds / (8.0 * Iterations));
            }
        return best;
    }

    private static short Sink;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe short MultiplyAdds(byte* p, long iterations)
    {
        var q = Vector512.Load((sbyte*)p + 512);
        Vector512<short> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
        for (long i = 0; i < iterations; i++)
        {
            s0 += Avx512BW.MultiplyAddAdjacent(Vector512.Load(p), q);
            s1 += Avx512BW.MultiplyAddAdjacent(Vector512.Load(p + 64), q);
            s2 += Avx512BW.MultiplyAddAdjacent(Vector512.Load(p + 128), q);
            s3 += Avx512BW.MultiplyAddAdjacent(Vector512.Load(p + 192), q);
            s4 += Avx512BW.MultiplyAddAdjacent(Vector512.Load(p + 256), q);
            s5 += Avx512BW.MultiplyAddAdjacent(Vector512.Load(p + 320), q);
            s6 += Avx512BW.MultiplyAddAdjacent(Vector512.Load(p + 384), q);
            s7 += Avx512BW.MultiplyAddAdjacent(Vector512.Load(p + 448), q);
        }
        return (s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7).GetElement(0);
    }

    /// <summary>
    /// `sessions profile [threads] [S] [calls]`: the same <see cref="Transformer.DecodeSteps"/> call of S sequences at
    /// position 64, repeated, for a profiler (perf with <c>DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0</c>).
    /// </summary>
    private static void Profile(int threads, int sequences, int calls)
    {
        var content = SyntheticCompressedLlama.Build();
        using var weights = new CompressedModelWeights(content);
        using var transformer = new Transformer(content.Config, binding => weights.Bind(binding), new TransformerOptions
        {
            Threads = threads, ContextLength = 128, Int8Activations = true, ClassifierPrecision = ClassifierPrecision.Int6, DecodeStepsBatchSize = sequences,
        });
        var caches = Enumerable.Range(0, sequences).Select(_ => transformer.NewCache()).ToArray();
        int[] prompt = [.. Enumerable.Range(1, 64)];
        foreach (var cache in caches) transformer.Prefill(cache, prompt, 0);
        var logits = new float[sequences * content.Config.VocabSize];
        int[] positions = [.. Enumerable.Repeat(64, sequences)];
        var times = new List<double>();
        for (int call = 0; call < calls; call++)
        {
            long start = Stopwatch.GetTimestamp();
            transformer.DecodeSteps(prompt.AsSpan(0, sequences), positions, caches, logits);
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        times.Sort();
        Console.WriteLine($"threads {threads}, {sequences} sequences, {calls} calls: best {times[0]:F2} ms, median {times[times.Count / 2]:F2} ms");
    }

    /// <summary>The value at fraction <paramref name="p"/> of <paramref name="sorted"/> (NaN when it is empty).</summary>
    internal static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
}
