using System.Diagnostics;
using System.Text;

namespace Caldera.Build.Tests;

/// <summary>Runs a command (normally `dotnet …`) to completion and captures its combined output.</summary>
internal static class DotNet
{
    /// <summary>
    /// No single build, pack or run here should come near this on a loaded two-core machine; the longest, a linux-x64
    /// NativeAOT publish from a fresh sample, compresses and then runs the native compiler twice (the x86-64-v4 variant).
    /// </summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(6);

    /// <param name="StopAfterInterrupt">From sending SIGINT to the process's exit; null where none was sent.</param>
    public sealed record Result(int ExitCode, string Output, TimeSpan? StopAfterInterrupt = null)
    {
        public override string ToString() => $"exit code {ExitCode}\n{Output}";

        /// <summary>
        /// The generated text: the output's lines without caldera run's speed line (stderr, merged here, so on any line)
        /// and any line that starts with one of <paramref name="otherStatusPrefixes"/>, trailing newlines cut.
        /// </summary>
        public string Text(params string[] otherStatusPrefixes) =>
            string.Join('\n', Output.ReplaceLineEndings("\n").Split('\n')
                .Where(l => !l.StartsWith("achieved tok/s", StringComparison.Ordinal) && !otherStatusPrefixes.Any(p => l.StartsWith(p, StringComparison.Ordinal))))
                .TrimEnd();
    }

    public static Result Run(string workingDirectory, params string[] arguments) => Exec("dotnet", workingDirectory, arguments);

    public static Result Exec(string fileName, string workingDirectory, params string[] arguments) =>
        RunProcess(fileName, workingDirectory, interruptAfter: null, environment: null, arguments);

    /// <summary>Like <see cref="Exec(string, string, string[])"/>, with <paramref name="environment"/> set for the command.</summary>
    public static Result Exec(string fileName, string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] arguments) =>
        RunProcess(fileName, workingDirectory, interruptAfter: null, environment, arguments);

    /// <summary>
    /// Runs the command and, as soon as a line containing <paramref name="interruptAfter"/> appears, sends it SIGINT, as
    /// Ctrl+C in a terminal does. The result times the stop from that moment, so no figure depends on how long the
    /// command took to reach the line.
    /// </summary>
    public static Result ExecInterrupted(string fileName, string workingDirectory, string interruptAfter, params string[] arguments)
    {
        if (SigIntIgnored())
            throw new InvalidOperationException(
                "SIGINT is ignored in this test process, and a child inherits that, so the command would never see Ctrl+C. The shell " +
                "that started the tests ignores it (a background job, `command &`, in a shell without job control); run .ci/run or " +
                "dotnet test in the foreground.");
        return RunProcess(fileName, workingDirectory, interruptAfter, environment: null, arguments);
    }

    /// <summary>Whether this process ignores SIGINT (signal 2: bit 1 of /proc/self/status's SigIgn mask). Linux only; false elsewhere.</summary>
    private static bool SigIntIgnored()
    {
        const string Status = "/proc/self/status";
        if (!File.Exists(Status)) return false;
        string? mask = File.ReadLines(Status).FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal))?["SigIgn:".Length..].Trim();
        return mask != null && ulong.TryParse(mask, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture, out ulong bits)
            && (bits & (1UL << 1)) != 0;
    }

    private static Result RunProcess(string fileName, string workingDirectory, string? interruptAfter, IReadOnlyDictionary<string, string>? environment,
        string[] arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        // The test host runs under `dotnet test`, whose MSBuild variables would leak into the nested builds.
        foreach (string key in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(key);
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) start.Environment[key] = value;

        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        int interrupted = 0;
        var clock = Stopwatch.StartNew();
        TimeSpan? sentAt = null;
        // Either stream may carry the line to interrupt after: a build's log is on stdout, an app's progress on stderr.
        void Received(object _, DataReceivedEventArgs e)
        {
            if (e.Data == null) return;
            lock (output) output.AppendLine(e.Data);
            if (interruptAfter != null && e.Data.Contains(interruptAfter, StringComparison.Ordinal) && Interlocked.Exchange(ref interrupted, 1) == 0)
            {
                Interrupt(process.Id);
                sentAt = clock.Elapsed;
            }
        }
        process.OutputDataReceived += Received;
        process.ErrorDataReceived += Received;
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(" ", arguments)} ran longer than {Timeout}:\n{output}");
        }
        process.WaitForExit();
        var stop = clock.Elapsed - sentAt;
        lock (output) return new Result(process.ExitCode, output.ToString(), stop);
    }

    private static void Interrupt(int processId)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-INT", processId.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false });
        kill?.WaitForExit();
    }
}
