using System.Diagnostics;
using Caldera.Benchmarks.Inference;
using Caldera.Compiler.Calibration;
using Caldera.Compiler.Decomposition;
using Caldera.Compiler.Pipeline;

namespace Caldera.Benchmarks.Calibration;

/// <summary>
/// Wall time and peak memory of compressing the whole synthetic dim-2048 Llama (<see cref="SyntheticLlama"/>) with
/// CALDERA at the fast preset (rank 64, 4-bit factors): calibration, every block's Hessians and all 56 matrices, as
/// <c>caldera compress</c> does. Not a BenchmarkDotNet benchmark (one run takes many minutes): it samples the GC heap
/// and working set every 20 ms. Run:
///   dotnet run -c Release --project benchmarks/Caldera.Benchmarks -- compress-synthetic [samples] [seq-len]
/// </summary>
internal static class SyntheticCompressionProbe
{
    public static void Run(string[] args)
    {
        int samples = args.Length > 0 ? int.Parse(args[0]) : 8;
        int length = args.Length > 1 ? int.Parse(args[1]) : 256;
        using var model = SyntheticLlama.Build();
        var c = model.Config;
        var random = new Random(1);
        var tokens = new int[samples * length];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = i % length == 0 ? 1 : random.Next(3, c.VocabSize);
        var set = CalibrationSet.FromTokens(tokens, length, "random tokens");

        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        var process = Process.GetCurrentProcess();
        process.Refresh();
        long baseWorkingSet = process.WorkingSet64, peakWorkingSet = baseWorkingSet;
        long baseHeap = GC.GetTotalMemory(false), peakHeap = baseHeap;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                process.Refresh();
                peakWorkingSet = Math.Max(peakWorkingSet, process.WorkingSet64);
                peakHeap = Math.Max(peakHeap, GC.GetTotalMemory(false));
                await Task.Delay(20);
            }
        });

        var plan = new CompressionPlan { Method = CompressionMethod.Caldera, Decomposition = CalderaOptions.Fast with { Rank = 64 }, Preset = "fast" };
        var clock = Stopwatch.StartNew();
        var progress = new Progress<CompressionProgress>(p =>
        {
            if (p.Event == CompressionEvent.LayerCompressed) Console.WriteLine($"layer {p.Layer + 1}/{p.LayerCount} done at {clock.Elapsed.TotalSeconds:F0} s");
        });
        var content = new ModelCompressor(plan).Compress(model, set, null, "synthetic", cacheDirectory: null, progress);
        clock.Stop();
        stop.Cancel();
        sampler.Wait();

        const double MiB = 1 << 20;
        Console.WriteLine($"synthetic dim-2048, CALDERA fast preset, rank 64, 4-bit factors, {samples} × {length} calibration tokens, {Environment.ProcessorCount} cores");
        Console.WriteLine($"matrices: {content.Matrices.Count}, wall time {clock.Elapsed.TotalSeconds:F0} s ({clock.Elapsed.TotalSeconds / content.Matrices.Count:F1} s per matrix)");
        Console.WriteLine($"model (F16, in memory): {baseWorkingSet / MiB:F0} MiB working set before compression");
        Console.WriteLine($"peak working set above the model: {(peakWorkingSet - baseWorkingSet) / MiB:F0} MiB; peak GC heap above: {(peakHeap - baseHeap) / MiB:F0} MiB");
    }
}
