using Caldera.Runtime.Inference;

namespace Caldera.Runtime.Tests.Inference;

public class WorkerPoolTests
{
    /// <summary>Counts each item's runs and the workers that ran them.</summary>
    private sealed class CountingWork(int count) : IParallelWork
    {
        public readonly int[] Hits = new int[count];
        public readonly HashSet<int> Workers = [];

        public void Execute(int start, int end, int worker)
        {
            lock (Workers) Workers.Add(worker);
            for (int i = start; i < end; i++) Interlocked.Increment(ref Hits[i]);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Every_item_runs_exactly_once(int threads)
    {
        using var pool = new WorkerPool(threads);
        foreach (int count in new[] { 1, 2, 5, 64, 1000 })
            foreach (int grain in new[] { 1, 3, 64, 2000 })
                for (int repeat = 0; repeat < 20; repeat++)
                {
                    var work = new CountingWork(count);
                    pool.For(count, grain, work);
                    Assert.All(work.Hits, h => Assert.Equal(1, h));
                    Assert.All(work.Workers, w => Assert.InRange(w, 0, threads - 1));
                }
    }

    [Fact]
    public void Loops_below_the_work_threshold_run_on_the_calling_thread_and_larger_ones_are_shared()
    {
        using var pool = new WorkerPool(3);
        // 64 rows of a 64-wide matrix against one token: 4,096 multiply-adds, far below the threshold.
        var small = new CountingWork(64);
        pool.For(64, 1, small, workPerItem: 64);
        Assert.All(small.Hits, h => Assert.Equal(1, h));
        Assert.Equal([0], small.Workers);

        // Enough work for every thread: items are split. The calling thread's first item waits until a worker has run
        // one, so the calling thread cannot take every item itself however the scheduler runs the threads; a pool that
        // never hands out work waits out the timeout and fails.
        var large = new RendezvousWork(256);
        pool.For(256, 1, large, workPerItem: WorkerPool.MinimumParallelWork);
        Assert.True(large.WorkerJoined, "a loop far above the threshold never reached a worker thread within 30 s");
        Assert.All(large.Hits, h => Assert.Equal(1, h));
    }

    /// <summary>Items whose first run on the calling thread (worker 0) waits for another worker to run one.</summary>
    private sealed class RendezvousWork(int count) : IParallelWork
    {
        public readonly int[] Hits = new int[count];
        private readonly ManualResetEventSlim _workerRan = new();
        private int _callerWaited;

        public bool WorkerJoined => _workerRan.IsSet;

        public void Execute(int start, int end, int worker)
        {
            if (worker != 0) _workerRan.Set();
            else if (Interlocked.Exchange(ref _callerWaited, 1) == 0) _workerRan.Wait(TimeSpan.FromSeconds(30));
            for (int i = start; i < end; i++) Interlocked.Increment(ref Hits[i]);
        }
    }

    [Fact]
    public void Workers_wake_after_blocking_and_failures_reach_the_caller()
    {
        using var pool = new WorkerPool(2);
        Thread.Sleep(50); // past the spin window: the worker is now blocked on the monitor
        var work = new CountingWork(100);
        pool.For(100, 1, work);
        Assert.All(work.Hits, h => Assert.Equal(1, h));

        var failing = new FailingWork();
        var error = Assert.Throws<InvalidOperationException>(() => pool.For(100, 1, failing));
        Assert.Equal("item 37", error.Message);
        // the pool still works afterwards
        work = new CountingWork(100);
        pool.For(100, 1, work);
        Assert.All(work.Hits, h => Assert.Equal(1, h));
    }

    private sealed class FailingWork : IParallelWork
    {
        public void Execute(int start, int end, int worker)
        {
            for (int i = start; i < end; i++)
                if (i == 37) throw new InvalidOperationException("item 37");
        }
    }
}
