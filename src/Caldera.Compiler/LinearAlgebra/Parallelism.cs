namespace Caldera.Compiler.LinearAlgebra;

/// <summary>
/// Runs independent work items on up to <c>threads</c> threads. Callers split work so that each output element
/// is written by exactly one item with a fixed arithmetic order, which makes results independent of the thread
/// count and of scheduling.
/// </summary>
internal static class Parallelism
{
    public static void For(int count, int threads, Action<int> body)
    {
        if (threads <= 1 || count <= 1)
        {
            for (int i = 0; i < count; i++)
            {
                body(i);
            }

            return;
        }

        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = threads }, body);
    }

    /// <summary>Splits [0, length) into at most <paramref name="parts"/> contiguous ranges of near-equal size.</summary>
    public static (int Start, int End) Range(int part, int parts, int length)
    {
        long start = (long)length * part / parts;
        long end = (long)length * (part + 1) / parts;
        return ((int)start, (int)end);
    }

    public static void ThrowIfInvalid(int threads)
    {
        if (threads < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(threads), threads, "threads must be at least 1.");
        }
    }
}
