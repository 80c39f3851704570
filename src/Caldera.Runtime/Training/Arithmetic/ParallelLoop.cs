using Caldera.Runtime.Inference;

namespace Caldera.Runtime.Training.Arithmetic;

/// <summary>
/// Runs a loop body on a <see cref="WorkerPool"/>. Training loops run over matrices, not single tokens, so the delegate
/// each loop allocates is noise beside its work. Every body in training computes each item's output on its own, in an
/// order fixed by the item, so the result is the same whichever worker takes an item and however the items are chunked:
/// thread count never changes a bit.
/// </summary>
internal static class ParallelLoop
{
    /// <summary>Runs <paramref name="body"/>(item, worker) for items [0, <paramref name="count"/>), each about <paramref name="workPerItem"/> multiply-adds.</summary>
    public static void For(WorkerPool pool, int count, long workPerItem, Action<int, int> body) =>
        pool.For(count, 1, new Work(body), workPerItem);

    private sealed class Work(Action<int, int> body) : IParallelWork
    {
        public void Execute(int start, int end, int worker)
        {
            for (int item = start; item < end; item++) body(item, worker);
        }
    }
}
