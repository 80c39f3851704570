using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Caldera.Runtime.Inference;

/// <summary>
/// A fixed set of persistent worker threads for the forward pass. A decode step issues a few hundred
/// small parallel loops per token, so workers spin briefly on a generation counter between loops
/// (waking in well under a microsecond) and only block on a monitor after a quiet spell; the calling
/// thread takes part as worker 0. Items are handed out in chunks from a shared counter, so a worker
/// slowed down by another process on the machine simply takes fewer chunks.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    /// <summary>How long an idle worker spins before blocking: longer than the gaps between a token's loops, short enough not to burn a core between tokens.</summary>
    private static readonly long SpinTicks = Stopwatch.Frequency / 5000; // 200 µs

    private readonly Thread[] _threads;
    private readonly object _gate = new();
    private readonly float[][] _scratch;
    private IParallelWork? _work;
    private int _count, _grain, _next, _pending, _generation, _sleepers;
    private Exception? _failure;
    private volatile bool _disposed;

    public WorkerPool(int threadCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threadCount, 1);
        ThreadCount = threadCount;
        _scratch = new float[threadCount][];
        for (int i = 0; i < threadCount; i++) _scratch[i] = [];
        _threads = new Thread[threadCount - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            int worker = i + 1;
            _threads[i] = new Thread(() => WorkerLoop(worker)) { IsBackground = true, Name = $"caldera worker {worker}" };
            _threads[i].Start();
        }
    }

    /// <summary>Threads that run work, the calling thread included.</summary>
    public int ThreadCount { get; }

    /// <summary>
    /// Loops with fewer multiply-adds than this run on the calling thread: handing work to a worker (and waking it
    /// when it has gone to sleep) costs more than the work itself. Without it a tiny model such as stories260K
    /// (64×64 matrices) decoded ten times slower on two threads than on one.
    /// </summary>
    public const long MinimumParallelWork = 1 << 16;

    /// <summary>
    /// <see cref="For(int, int, IParallelWork)"/> for a loop whose items cost about <paramref name="workPerItem"/>
    /// multiply-adds each: small loops run inline on the calling thread.
    /// </summary>
    public void For(int count, int grain, IParallelWork work, long workPerItem) =>
        For(count, (long)count * workPerItem < MinimumParallelWork ? Math.Max(count, 1) : grain, work);

    /// <summary>
    /// Runs <paramref name="work"/> over items [0, <paramref name="count"/>) in chunks of
    /// <paramref name="grain"/> items on every thread, and returns when all items are done. Not reentrant:
    /// one loop at a time per pool.
    /// </summary>
    public void For(int count, int grain, IParallelWork work)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (count <= 0) return;
        grain = Math.Max(1, grain);
        if (_threads.Length == 0 || count <= grain)
        {
            for (int start = 0; start < count; start += grain) work.Execute(start, Math.Min(start + grain, count), 0);
            return;
        }
        _work = work;
        _count = count;
        _grain = grain;
        _next = 0;
        _pending = _threads.Length;
        Interlocked.Increment(ref _generation); // full fence: publishes the fields above
        if (Volatile.Read(ref _sleepers) > 0)
            lock (_gate) Monitor.PulseAll(_gate);

        RunChunksCatching(0);
        var wait = new SpinWait();
        while (Volatile.Read(ref _pending) != 0) wait.SpinOnce(sleep1Threshold: -1);
        _work = null;
        if (_failure is { } failure)
        {
            _failure = null;
            ExceptionDispatchInfo.Throw(failure);
        }
    }

    /// <summary>
    /// A per-worker buffer of at least <paramref name="length"/> floats, valid until that worker's next
    /// call. It only grows, so steady-state calls allocate nothing.
    /// </summary>
    public Span<float> Scratch(int worker, int length)
    {
        if (_scratch[worker].Length < length) _scratch[worker] = new float[length];
        return _scratch[worker].AsSpan(0, length);
    }

    /// <summary>Runs chunks until none are left; a failure stops the hand-out and is rethrown by <see cref="For"/> once every thread is done.</summary>
    private void RunChunksCatching(int worker)
    {
        try
        {
            RunChunks(worker);
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _failure, e, null);
            Interlocked.Exchange(ref _next, _count);
        }
    }

    private void RunChunks(int worker)
    {
        var work = _work!;
        int count = _count, grain = _grain;
        while (true)
        {
            int start = Interlocked.Add(ref _next, grain) - grain;
            if (start >= count) return;
            work.Execute(start, Math.Min(start + grain, count), worker);
        }
    }

    private void WorkerLoop(int worker)
    {
        int seen = 0;
        while (true)
        {
            seen = WaitForGeneration(seen);
            if (_disposed) return;
            RunChunksCatching(worker);
            Interlocked.Decrement(ref _pending);
        }
    }

    private int WaitForGeneration(int seen)
    {
        long deadline = Stopwatch.GetTimestamp() + SpinTicks;
        while (true)
        {
            int generation = Volatile.Read(ref _generation);
            if (generation != seen || _disposed) return generation;
            if (Stopwatch.GetTimestamp() < deadline)
            {
                Thread.SpinWait(8);
                continue;
            }
            lock (_gate)
            {
                // Announce before re-checking (both full fences): either For sees the sleeper and
                // pulses, or this thread sees the new generation and does not wait.
                Interlocked.Increment(ref _sleepers);
                while (Volatile.Read(ref _generation) == seen && !_disposed) Monitor.Wait(_gate);
                Interlocked.Decrement(ref _sleepers);
            }
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Interlocked.Increment(ref _generation);
        lock (_gate) Monitor.PulseAll(_gate);
        foreach (var thread in _threads) thread.Join();
    }
}
