using System.Diagnostics;
using Caldera.Benchmarks.Inference;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Training.Model;
using Caldera.Runtime.Training.Optimization;

namespace Caldera.Benchmarks.Training;

/// <summary>
/// `finetune-memory [threads] [steps]`: <see cref="FineTuneBenchmarks"/>' steps run in a process of their own, printing
/// the model's stored bytes (what its `.cald` would hold: codes, factors, F16 embedding and classifier, norms), the
/// peak resident set (VmHWM) after building the model, after peeling the trained ranks and after the steps, and
/// tokens/s and tokens per CPU-second (what a loaded machine disturbs least), so the goal (peak within the `.cald` size
/// plus 1 GiB) is read off one run.
/// </summary>
internal static class FineTuneMemoryProbe
{
    public static void Run(string[] args)
    {
        int threads = args.Length > 0 ? int.Parse(args[0]) : 2;
        int steps = args.Length > 1 ? int.Parse(args[1]) : 4;
        var content = SyntheticCompressedLlama.Build();
        long stored = content.Matrices.Sum(m => 2L * (m.QCodes.Length + m.RCodes.Length + m.LTransposedCodes.Length))
            + content.DenseTensors.Sum(d => (long)d.Data.Length);
        Console.WriteLine($"stored model: {stored / 1048576.0:F0} MiB; after building it: peak RSS {PeakMiB():F0} MiB");
        var model = TrainableModel.Peel(content, FineTuneBenchmarks.Rank);
        Console.WriteLine($"after peeling rank {FineTuneBenchmarks.Rank}: peak RSS {PeakMiB():F0} MiB");
        using var pool = new WorkerPool(threads);
        var pass = new WindowPass(model, pool, FineTuneBenchmarks.Window);
        var optimizer = new AdamW(model.Trained, weightDecay: 0, clipNorm: 1.0);
        int[] tokens = [.. Enumerable.Range(0, FineTuneBenchmarks.Window + 1).Select(i => (i * 7919 + 11) % content.Config.VocabSize)];
        var times = new List<double>();
        var cpu = new List<double>();
        using var process = Process.GetCurrentProcess();
        for (int step = 0; step < steps; step++)
        {
            long start = Stopwatch.GetTimestamp();
            process.Refresh();
            var cpuStart = process.TotalProcessorTime;
            FineTuneBenchmarks.Step(model, pass, optimizer, tokens);
            times.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
            process.Refresh();
            cpu.Add((process.TotalProcessorTime - cpuStart).TotalSeconds);
        }
        // CPU seconds per step are the work on a shared machine: the wall clock also counts the time other tenants held the cores.
        Console.WriteLine($"threads {threads}, {steps} steps of {FineTuneBenchmarks.Window} tokens: best {FineTuneBenchmarks.Window / times.Min():F1} tok/s, "
            + $"{FineTuneBenchmarks.Window / cpu.Min():F1} tokens per CPU-second; peak RSS {PeakMiB():F0} MiB (stored model + {(PeakMiB() - stored / 1048576.0) / 1024:F2} GiB)");
    }

    /// <summary>The process's peak resident set (VmHWM of /proc/self/status), in MiB.</summary>
    private static double PeakMiB()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0;
        return double.NaN;
    }
}
