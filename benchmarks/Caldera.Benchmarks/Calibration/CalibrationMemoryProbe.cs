using System.Diagnostics;
using Caldera.Benchmarks.Inference;
using Caldera.Compiler.Calibration;

namespace Caldera.Benchmarks.Calibration;

/// <summary>
/// Peak memory of layer-wise calibration on the synthetic dim-2048 Llama (<see cref="SyntheticLlama"/>: dim 2048,
/// 8 layers, 32 heads, 8 KV heads, FFN 5632, vocab 32000, random F16 weights built in memory). Not a
/// BenchmarkDotNet benchmark: it samples the GC heap and the working set while every block is calibrated and its
/// four Hessians turned into second moments (what the compressor does before compressing a block), and reports
/// peaks above the baseline of the model itself. Run:
///   dotnet run -c Release --project benchmarks/Caldera.Benchmarks -- calibration-memory [samples] [seq-len]
/// </summary>
internal static class CalibrationMemoryProbe
{
    public static void Run(string[] args)
    {
        int samples = args.Length > 0 ? int.Parse(args[0]) : 8;
        int length = args.Length > 1 ? int.Parse(args[1]) : 256;
        using var model = SyntheticLlama.Build();
        var c = model.Config;
        var set = ProbeSupport.RandomTokens(c, samples, length);
        var memory = new PeakMemory();

        var clock = Stopwatch.StartNew();
        long residual, hessianBytes = 0;
        using (var calibrator = new LayerwiseCalibrator(model, set, Environment.ProcessorCount))
        {
            residual = calibrator.ResidualStreamBytes;
            for (int l = 0; l < c.LayerCount; l++)
            {
                var hessians = calibrator.Advance(captureHessians: true)!;
                hessianBytes = hessians.Bytes;
                // As ModelCompressor does before compressing a block: regularized fp32 Hessians out, sums dropped, one full collection.
                long entries = hessians.ReleaseRegularized(0.01, (_, _) => { }).Sum(h => h.Data.LongLength);
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                Console.WriteLine($"layer {l + 1}/{c.LayerCount}: {clock.Elapsed.TotalSeconds:F1} s, {entries * 4 >> 20} MiB of fp32 Hessians");
            }
        }
        memory.Dispose();

        const double MiB = 1 << 20;
        Console.WriteLine($"synthetic dim-2048 model: {samples} × {length} tokens, {clock.Elapsed.TotalSeconds:F1} s");
        Console.WriteLine($"model (F16, in memory):    {memory.BaseWorkingSet / MiB:F0} MiB working set, {memory.BaseHeap / MiB:F0} MiB GC heap before calibration");
        Console.WriteLine($"residual stream:           {residual / MiB:F1} MiB (N·L·dim floats)");
        Console.WriteLine($"one block's Hessians:      {hessianBytes / MiB:F1} MiB (fp64 sums: dim² + qDim² + dim² + hidden²)");
        Console.WriteLine($"peak GC heap above model:  {(memory.PeakHeap - memory.BaseHeap) / MiB:F0} MiB");
        Console.WriteLine($"peak working set above:    {(memory.PeakWorkingSet - memory.BaseWorkingSet) / MiB:F0} MiB (sampled every 20 ms)");
    }
}
