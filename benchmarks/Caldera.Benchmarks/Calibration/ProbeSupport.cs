using System.Diagnostics;
using Caldera.Compiler.Calibration;
using Caldera.Runtime.Model;

namespace Caldera.Benchmarks.Calibration;

/// <summary>Calibration tokens for the synthetic model, and a sampler of peak memory, shared by the probes.</summary>
internal static class ProbeSupport
{
    /// <summary><paramref name="samples"/> sequences of <paramref name="length"/> random tokens, BOS first (seed 1).</summary>
    public static CalibrationSet RandomTokens(LlamaConfig config, int samples, int length)
    {
        var random = new Random(1);
        var tokens = new int[samples * length];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = i % length == 0 ? 1 : random.Next(3, config.VocabSize);
        return CalibrationSet.FromTokens(tokens, length, "random tokens");
    }
}

/// <summary>Samples the GC heap and the working set every 20 ms from a baseline taken after a full collection.</summary>
internal sealed class PeakMemory : IDisposable
{
    private readonly Process _process = Process.GetCurrentProcess();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sampler;

    public PeakMemory()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        _process.Refresh();
        BaseHeap = PeakHeap = GC.GetTotalMemory(forceFullCollection: false);
        BaseWorkingSet = PeakWorkingSet = _process.WorkingSet64;
        _sampler = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                _process.Refresh();
                PeakWorkingSet = Math.Max(PeakWorkingSet, _process.WorkingSet64);
                PeakHeap = Math.Max(PeakHeap, GC.GetTotalMemory(forceFullCollection: false));
                await Task.Delay(20);
            }
        });
    }

    public long BaseHeap { get; }
    public long BaseWorkingSet { get; }
    public long PeakHeap { get; private set; }
    public long PeakWorkingSet { get; private set; }

    /// <summary>Stops sampling; the peaks are final afterwards.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        _sampler.Wait();
        _stop.Dispose();
    }
}
