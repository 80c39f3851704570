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
        var set = ProbeSupport.RandomTokens(c, samples, length);
        var memory = new PeakMemory();

        var plan = new CompressionPlan { Method = CompressionMethod.Caldera, Decomposition = CalderaOptions.Fast with { Rank = 64 }, Preset = "fast" };
        var clock = Stopwatch.StartNew();
        var progress = new Progress<CompressionProgress>(p =>
        {
            if (p.Event == CompressionEvent.LayerCompressed) Console.WriteLine($"layer {p.Layer + 1}/{p.LayerCount} done at {clock.Elapsed.TotalSeconds:F0} s");
        });
        var content = new ModelCompressor(plan).Compress(model, set, null, "synthetic", cacheDirectory: null, progress);
        clock.Stop();
        memory.Dispose();

        const double MiB = 1 << 20;
        Console.WriteLine($"synthetic dim-2048, CALDERA fast preset, rank 64, 4-bit factors, {samples} × {length} calibration tokens, {Environment.ProcessorCount} cores");
        Console.WriteLine($"matrices: {content.Matrices.Count}, wall time {clock.Elapsed.TotalSeconds:F0} s ({clock.Elapsed.TotalSeconds / content.Matrices.Count:F1} s per matrix)");
        Console.WriteLine($"model (F16, in memory): {memory.BaseWorkingSet / MiB:F0} MiB working set before compression");
        Console.WriteLine($"peak working set above the model: {(memory.PeakWorkingSet - memory.BaseWorkingSet) / MiB:F0} MiB; peak GC heap above: {(memory.PeakHeap - memory.BaseHeap) / MiB:F0} MiB");
    }
}
