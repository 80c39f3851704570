using System.Diagnostics;
using Caldera.Compiler.Calibration;
using Caldera.Compiler.Decomposition;
using Caldera.Compiler.LinearAlgebra;
using Caldera.Compiler.Pipeline;
using Caldera.Runtime.Model;

namespace Caldera.Benchmarks.Calibration;

/// <summary>
/// Time and peak memory of compressing one matrix of a real checkpoint as <c>caldera compress</c> does: calibrate
/// block 0 (7 × 128 random tokens, the size of the CLI's default calibration), keep its four Hessians, and compress
/// one matrix kind with them, sampling the GC heap and the working set every 20 ms. With the 8B-shaped model of
/// <c>scripts/make-synthetic-gguf.sh 8b 1</c> this measures every real 8B matrix shape without a whole run. Run:
///   dotnet run -c Release --project benchmarks/Caldera.Benchmarks -- compress-matrix model.gguf q|k|v|o|gate|up|down [fast|paper|paperN] [threads]
/// </summary>
internal static class MatrixCompressionProbe
{
    public static void Run(string[] args)
    {
        if (args.Length < 2) throw new ArgumentException("usage: compress-matrix model.gguf q|k|v|o|gate|up|down [fast|paper|paperN] [threads]");
        string preset = args.Length > 2 ? args[2] : "fast";
        int threads = args.Length > 3 ? int.Parse(args[3]) : Environment.ProcessorCount;
        var matrix = BlockMatrix.All.SingleOrDefault(m => m.Short == args[1]) ?? throw new ArgumentException($"matrix '{args[1]}': use q, k, v, o, gate, up or down.");
        var options = preset switch
        {
            "fast" => CalderaOptions.Fast,
            "paper" => CalderaOptions.Paper,
            _ when preset.StartsWith("paper") && int.TryParse(preset.AsSpan(5), out int outer) && outer > 0 => CalderaOptions.Paper with { OuterIterations = outer },
            _ => throw new ArgumentException($"preset '{preset}': use fast, paper or paperN (N outer iterations)."),
        };
        using var checkpoint = ModelCheckpoint.Open(args[0]);
        var c = checkpoint.Config;
        var plan = new CompressionPlan { Method = CompressionMethod.Caldera, Decomposition = options with { Rank = 64 }, Threads = threads, ParallelMatrices = 1 };
        var compressor = new ModelCompressor(plan);
        const double MiB = 1 << 20;

        var clock = Stopwatch.StartNew();
        var calibrationMemory = new PeakMemory();
        Matrix<float> h;
        using (var calibrator = new LayerwiseCalibrator(checkpoint, ProbeSupport.RandomTokens(c, 7, 128), threads))
            h = compressor.RegularizedHessians(checkpoint, 0, calibrator.Advance(captureHessians: true)!)[(int)matrix.Input]!;
        calibrationMemory.Dispose();
        double calibrationSeconds = clock.Elapsed.TotalSeconds;

        var memory = new PeakMemory();
        clock.Restart();
        // Each step as it ends, with the GC heap then: a run stopped early still shows how far it got within its heap limit.
        var steps = new Progress<CalderaStep>(s => Console.WriteLine(
            $"  outer {s.Iteration} {s.Update,-2} error {s.RelativeError:F6} at {s.Elapsed.TotalSeconds:F0} s, GC heap {GC.GetTotalMemory(false) / MiB:F0} MiB"));
        var result = compressor.CompressMatrix(checkpoint, matrix.Name(0), h, threads, steps);
        clock.Stop();
        memory.Dispose();
        var tensor = checkpoint.Tensor(matrix.Name(0));
        Console.WriteLine($"{matrix.Short} {tensor.Rows}×{tensor.Columns}, {preset}, rank 64, {threads} threads: {clock.Elapsed.TotalSeconds:F1} s, " +
            $"relative error {result.RelativeError:F6}; block 0 calibrated in {calibrationSeconds:F1} s");
        Console.WriteLine($"peak above the held Hessian: GC heap {(memory.PeakHeap - memory.BaseHeap) / MiB:F0} MiB, working set {(memory.PeakWorkingSet - memory.BaseWorkingSet) / MiB:F0} MiB " +
            $"(Hessian {(long)tensor.Columns * tensor.Columns * sizeof(float) / MiB:F0} MiB; base working set {memory.BaseWorkingSet / MiB:F0} MiB)");
        Console.WriteLine($"calibration peak: GC heap {(calibrationMemory.PeakHeap - calibrationMemory.BaseHeap) / MiB:F0} MiB, working set {(calibrationMemory.PeakWorkingSet - calibrationMemory.BaseWorkingSet) / MiB:F0} MiB");
    }
}
