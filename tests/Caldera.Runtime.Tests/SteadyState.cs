namespace Caldera.Runtime.Tests;

/// <summary>What a repeated step allocates once it has settled.</summary>
internal static class SteadyState
{
    /// <summary>
    /// Runs <paramref name="step"/> <paramref name="warmup"/> times, then three windows of <paramref name="window"/>
    /// steps, and returns the fewest bytes this thread allocated in one window. An allocation per step shows in
    /// every window. A one-off by the runtime does not: a tier-1 recompile that lands mid-window and boxes a static
    /// on this thread, for one (CI saw 7688 B once in 20 sampler calls). The minimum leaves that out.
    /// </summary>
    public static long AllocatedBytes(Action step, int warmup, int window)
    {
        for (int i = 0; i < warmup; i++) step();
        long fewest = long.MaxValue;
        for (int w = 0; w < 3 && fewest > 0; w++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < window; i++) step();
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return fewest;
    }
}
