namespace Caldera.Runtime.Tests;

/// <summary>What a repeated step allocates once it has settled, on every thread of the process.</summary>
/// <remarks>
/// Decoding splits its loops across worker threads, so a count of the calling thread alone would miss what a worker
/// allocates. <see cref="GC.GetTotalAllocatedBytes(bool)"/> counts every thread; tests that use it belong to
/// <see cref="AllocationCollection"/>, which runs alone, so no other test's allocations land in a window, and the
/// project runs without tiered compilation, whose background recompiles would.
/// </remarks>
internal static class SteadyState
{
    /// <summary>
    /// On a loaded machine (load averages of 7 to 40 on 2 cores) 168 bytes from somewhere else in the process landed in
    /// five windows in a row in about one full run in three, always at two threads; twenty windows make that rarer, and
    /// an allocation per step still shows in all of them. A quiet machine's first window is clean and ends the loop.
    /// </summary>
    private const int Windows = 20;

    /// <summary>
    /// Runs <paramref name="step"/> <paramref name="warmup"/> times, then up to <see cref="Windows"/> windows of
    /// <paramref name="window"/> steps, and returns the fewest bytes the process allocated in one window. An allocation
    /// per step shows in every window. A one-off by the runtime or the test runner's own threads does not; the minimum
    /// leaves it out.
    /// </summary>
    public static long AllocatedBytes(Action step, int warmup, int window)
    {
        for (int i = 0; i < warmup; i++) step();
        long fewest = long.MaxValue;
        for (int w = 0; w < Windows && fewest > 0; w++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < window; i++) step();
            fewest = Math.Min(fewest, GC.GetTotalAllocatedBytes(precise: true) - before);
        }
        return fewest;
    }
}

/// <summary>Tests that count the whole process's allocations run alone, after the parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationCollection
{
    public const string Name = "Allocation counts (every thread, run alone)";
}
