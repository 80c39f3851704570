using System.Runtime.InteropServices;

namespace Caldera.Runtime.Hosting;

/// <summary>
/// Work that may take whatever CPU the app leaves: a thread of its own at the lowest OS priority (nice 19 on Linux),
/// so that it runs on an idle core and yields to the app's threads instead of taking turns with them. A published
/// app's first token depends on it: at load the model's checksum (every byte, 19 ms of CPU for the 0.5B model) ran
/// beside the tokenizer and the binding on two vCPUs, and three threads shared two cores.
/// </summary>
internal static partial class LowPriorityWork
{
    /// <summary>Runs <paramref name="work"/> on a new background thread named <paramref name="name"/>, at the lowest priority where the OS allows it.</summary>
    /// <remarks>
    /// The low-priority thread only computes and signals: a new thread inherits its creator's nice value, and a task
    /// completed there would queue its continuations from it, which may start a thread-pool worker that keeps nice 19
    /// for good. The task is completed from the thread pool's wait thread instead, which this (normal) thread starts.
    /// </remarks>
    public static Task<T> Run<T>(string name, Func<T> work)
    {
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var done = new ManualResetEvent(false);
        T value = default!;
        Exception? failure = null;
        RegisteredWaitHandle? registration = null;
        // Registered before the thread starts, so the callback (after done.Set) finds it and releases both handles.
        registration = ThreadPool.RegisterWaitForSingleObject(done, (_, _) =>
        {
            registration!.Unregister(null);
            done.Dispose();
            if (failure is null) result.SetResult(value);
            else result.SetException(failure);
        }, null, Timeout.Infinite, executeOnlyOnce: true);
        var thread = new Thread(() =>
        {
            Lower();
            try
            {
                value = work();
            }
            catch (Exception e)
            {
                failure = e;
            }
            done.Set();
        })
        { IsBackground = true, Name = name };
        thread.Start();
        return result.Task;
    }

    /// <summary>The calling thread's nice value to 19 (Linux applies setpriority's PRIO_PROCESS 0 to the calling thread alone); elsewhere the lowest .NET priority.</summary>
    private static void Lower()
    {
        if (OperatingSystem.IsLinux()) _ = SetPriority(PriorityProcess, 0, LowestNice); // refused: the work runs at the app's priority
        else Thread.CurrentThread.Priority = ThreadPriority.Lowest;
    }

    private const int PriorityProcess = 0, LowestNice = 19;

    [LibraryImport("libc", EntryPoint = "setpriority")]
    private static partial int SetPriority(int which, uint who, int priority);
}
