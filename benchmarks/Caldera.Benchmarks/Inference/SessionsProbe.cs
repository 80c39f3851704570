using System.Diagnostics;
using Caldera.Runtime.Hosting;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Sampling;

namespace Caldera.Benchmarks.Inference;

/// <summary>
/// Concurrent sessions on <see cref="SyntheticCompressedLlama"/> through the <see cref="SessionScheduler"/>, as
/// <c>CalderaModel</c> runs them (int8 arithmetic, 6-bit classifier): for each session count S, S turns start at once, each
/// with its own 32-token prompt, and each generates [tokens] tokens greedily (no end-of-sequence: the random model
/// would stop anywhere). Prints the aggregate generated tokens/s (all tokens over the wall time from the start to the
/// last token), the time to first token (median and worst over the sessions), and the p50/p95 time between a
/// session's tokens, over all sessions' tokens.
///   dotnet benchmarks/Caldera.Benchmarks/bin/Release/net10.0/Caldera.Benchmarks.dll sessions [threads] [tokens] [S…]
/// </summary>
internal static class SessionsProbe
{
    private const int PromptTokens = 32;

    public static void Run(string[] args)
    {
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
            turns[i] = new SessionTurn(history, prompt, 0, tokens, new Sampler(vocab, new SamplingOptions { Temperature = 0 }), _ => false, "synthetic");
        }
        long start = Stopwatch.GetTimestamp();
        foreach (var turn in turns) scheduler.Add(turn);
        var readers = turns.Select(turn => Task.Run(async () =>
        {
            var times = new List<long>(tokens);
            await foreach (int _ in turn.Tokens.ReadAllAsync()) times.Add(Stopwatch.GetTimestamp());
            return times;
        })).ToArray();
        Task.WaitAll(readers);
        long end = readers.Max(r => r.Result[^1]);
        double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
        double[] ttft = [.. readers.Select(r => Ms(r.Result[0] - start))];
        double[] gaps = [.. readers.SelectMany(r => r.Result.Zip(r.Result.Skip(1), (a, b) => Ms(b - a)))];
        return (sessions * tokens / (Ms(end - start) / 1000), ttft, gaps);
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
}
