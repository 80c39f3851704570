using System.Diagnostics;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Training.Arithmetic;

namespace Caldera.Benchmarks.Training;

/// <summary>
/// `finetune-kernels [threads]`: the multiply-adds per second of training's product kernels on a float 2048 × 2048 matrix
/// and a 256-token window (as the dim-2048 model's attention matrices and <c>--seq-len 256</c> have them), against the
/// same tiles run again and again on data that stays in L1. Run at 1 and 2 threads on the two vCPUs of one core, it
/// shows what the second SMT thread adds to each kernel; per CPU-second is the work each thread gets done, which other
/// tenants' load disturbs less than the wall clock.
/// </summary>
internal static class FineTuneKernelsProbe
{
    public static void Run(string[] args)
    {
        int threads = args.Length > 0 ? int.Parse(args[0]) : 1;
        const int M = 2048, N = 2048, Tokens = 256;
        var random = new Random(1);
        float[] w = Values(random, M * N), u = Values(random, Tokens * N);
        float[] y = new float[Tokens * M], x = new float[Tokens * N];
        using var pool = new WorkerPool(threads);
        var products = new RowProducts(pool);
        var rows = new FloatRows(w, M, N);
        using var process = Process.GetCurrentProcess();
        Time("forward products (6×4 tiles, rows and tokens from L2)", () => products.Multiply(rows, u, y, Tokens), (double)M * N * Tokens);
        Time("transposed products (4 tokens × 64 columns)", () => products.MultiplyTransposed(rows, y, x, Tokens), (double)M * N * Tokens);
        // 64 items, each one 6 × 4 tile of length 256 (10 KiB) again and again.
        Time("6×4 tiles in L1", () => ParallelLoop.For(pool, 64, 1 << 20, (item, _) =>
        {
            Span<float> tile = stackalloc float[24];
            for (int repeat = 0; repeat < 4096; repeat++)
                FixedOrder.Dots6x4(w.AsSpan(item * 6 * 256, 6 * 256), 256, u.AsSpan(item * 4 * 256, 4 * 256), 256, 256, tile);
        }), 64.0 * 4096 * 24 * 256);
        // 64 items, each 64 rows × 64 columns (16 KiB) into 4 tokens, again and again.
        Time("4 × 64 weighted row sums in L1", () => ParallelLoop.For(pool, 64, 1 << 20, (item, _) =>
        {
            for (int repeat = 0; repeat < 512; repeat++)
                WeightedRowSums.Add(w.AsSpan(item * 64 * 64, 64 * 64), 64, 64, u.AsSpan(item * 4 * 64, 4 * 64), 64, x.AsSpan(item * 4 * 64, 4 * 64), 64, 4, 64);
        }), 64.0 * 512 * 64 * 64 * 4);

        void Time(string name, Action run, double multiplyAdds)
        {
            run();
            double wall = double.MaxValue, cpu = double.MaxValue;
            for (int repeat = 0; repeat < 5; repeat++)
            {
                process.Refresh();
                var cpuStart = process.TotalProcessorTime;
                long start = Stopwatch.GetTimestamp();
                run();
                wall = Math.Min(wall, Stopwatch.GetElapsedTime(start).TotalSeconds);
                process.Refresh();
                cpu = Math.Min(cpu, (process.TotalProcessorTime - cpuStart).TotalSeconds);
            }
            Console.WriteLine($"threads {threads}, {name}: {multiplyAdds / wall / 1e9:F1} G multiply-adds/s, {multiplyAdds / cpu / 1e9:F1} per CPU-second");
        }
    }

    private static float[] Values(Random random, int count) => [.. Enumerable.Range(0, count).Select(_ => (float)random.NextDouble() - 0.5f)];
}
