namespace Caldera.Runtime.Inference;

/// <summary>
/// A loop body the <see cref="WorkerPool"/> runs over a range of items. Implementations are allocated
/// once and re-armed with fresh arguments before each run, so a run allocates nothing.
/// </summary>
internal interface IParallelWork
{
    /// <summary>Processes items [<paramref name="start"/>, <paramref name="end"/>) on worker <paramref name="worker"/> (0 = the calling thread).</summary>
    void Execute(int start, int end, int worker);
}
