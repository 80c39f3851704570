using Caldera.Runtime.Hosting;

namespace Caldera.Runtime.Tests.Hosting;

public class LowPriorityWorkTests
{
    [Fact]
    public async Task The_work_runs_on_a_background_thread_of_its_own_at_nice_19_and_leaves_the_caller_s_priority_alone()
    {
        int callerNice = OperatingSystem.IsLinux() ? Nice() : 0;
        var (nice, background, thread) = await LowPriorityWork.Run("test work", () =>
            (OperatingSystem.IsLinux() ? Nice() : 19, Thread.CurrentThread.IsBackground, Environment.CurrentManagedThreadId));
        Assert.True(background);
        Assert.NotEqual(Environment.CurrentManagedThreadId, thread);
        Assert.Equal(19, nice);
        // The continuation runs on a thread-pool thread: none of them may have inherited the work's priority.
        if (OperatingSystem.IsLinux()) Assert.Equal(callerNice, Nice());
    }

    [Fact]
    public async Task A_failure_is_the_task_s_exception()
    {
        var failure = await Assert.ThrowsAsync<InvalidDataException>(() => LowPriorityWork.Run<int>("failing work", () => throw new InvalidDataException("corrupt")));
        Assert.Equal("corrupt", failure.Message);
    }

    /// <summary>The calling thread's nice value: field 19 of /proc/thread-self/stat (after the parenthesised name).</summary>
    private static int Nice()
    {
        string stat = File.ReadAllText("/proc/thread-self/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[16]);
    }
}
