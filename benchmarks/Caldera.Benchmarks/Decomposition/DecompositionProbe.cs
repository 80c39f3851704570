using System.Diagnostics;
using Caldera.Compiler.Decomposition;
using Caldera.Compiler.Tests.Decomposition;

namespace Caldera.Benchmarks.Decomposition;

/// <summary>
/// One decomposition of an n×n synthetic matrix (as <see cref="DecompositionBenchmarks"/>, at any size) with its step
/// profile: the quick loop for iterating at 1024² or 2048² before a BenchmarkDotNet run at 4096². Run:
///   dotnet run -c Release --project benchmarks/Caldera.Benchmarks -- decompose [size] [fast|paper|paperN|ldlq] [threads]
/// (paperN is the paper preset cut to N outer iterations; ldlq is BlockLDLQ alone: rank 0, 10 sweeps.)
/// Under a real-time priority (<c>chrt -f 50</c>, used against the other tenants' noise) also set
/// <c>DOTNET_TieredCompilation=0</c>: otherwise the runtime's tier-up thread waits behind the busy workers, and a loop
/// that was still in tier-0 code when the sweeps began runs so for the whole Q-update (2–20× slower, same codes).
/// </summary>
internal static class DecompositionProbe
{
    public static void Run(string[] args)
    {
        int size = args.Length > 0 ? int.Parse(args[0]) : 1024;
        string preset = args.Length > 1 ? args[1] : "paper1";
        int threads = args.Length > 2 ? int.Parse(args[2]) : Environment.ProcessorCount;
        var options = preset switch
        {
            "fast" => CalderaOptions.Fast,
            "paper" => CalderaOptions.Paper,
            "ldlq" => CalderaOptions.Paper with { Rank = 0 },
            _ when preset.StartsWith("paper") && int.TryParse(preset.AsSpan(5), out int outer) && outer > 0 =>
                CalderaOptions.Paper with { OuterIterations = outer },
            _ => throw new ArgumentException($"preset '{preset}': use fast, paper, paperN (N outer iterations) or ldlq."),
        };
        var layer = SyntheticMatrix.Create(size, size, seed: 11);
        var profile = new DecompositionProfile();
        var clock = Stopwatch.StartNew();
        var steps = new List<CalderaStep>();
        var result = CalderaDecomposer.Decompose(layer.W, layer.H, options with { Threads = threads }, new Progress(steps), profile);
        clock.Stop();
        Console.WriteLine($"{size}² {preset}, {threads} threads: {clock.Elapsed.TotalSeconds:F1} s, relative error {result.RelativeError:F6}, codes {Checksum(result):X16}");
        Console.WriteLine("// Error after each update: " + string.Join(", ", steps.Select(x => $"{x.Iteration}{x.Update} {x.RelativeError:F6}")));
        DecompositionBenchmarks.Print(profile);
    }

    /// <summary>Collects the decomposer's steps synchronously (<see cref="Progress{T}"/> would post them to the thread pool).</summary>
    private sealed class Progress(List<CalderaStep> steps) : IProgress<CalderaStep>
    {
        public void Report(CalderaStep value) => steps.Add(value);
    }

    /// <summary>FNV-1a over Q's codes and both factors' codes: equal checksums mean an A/B change kept the results.</summary>
    private static ulong Checksum(CompressedMatrix result)
    {
        ulong hash = 14695981039346656037UL;
        foreach (var codes in new[] { result.Q.Codes, result.Factors.LTransposedCodes?.Codes ?? [], result.Factors.RCodes?.Codes ?? [] })
            foreach (ushort word in codes)
                hash = (hash ^ word) * 1099511628211UL;
        return hash;
    }
}
