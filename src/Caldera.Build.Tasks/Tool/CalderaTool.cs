using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Caldera.Build.Tasks.Tool;

/// <summary>
/// Runs the framework-dependent <c>caldera</c> tool as <c>dotnet caldera.dll …</c> in its own process, so the
/// compiler's memory, threads and native state never live inside MSBuild, and relays what it prints:
/// progress as messages (a finished layer at normal importance, each matrix at low), <c>caldera: …</c> lines
/// as the error text the caller turns into a coded error. Cancelling kills the whole process tree.
/// </summary>
internal sealed class CalderaTool(string dotnetHost, string toolAssembly, TaskLoggingHelper log)
{
    private const string ErrorPrefix = "caldera: ";

    public static void EnsureExists(string toolAssembly)
    {
        if (!File.Exists(toolAssembly))
            throw new BuildFailure(BuildDiagnostic.ToolMissing,
                $"the caldera tool '{toolAssembly}' does not exist; restore the Caldera.Build package again (dotnet restore --force), or point $(CalderaToolAssembly) at a built caldera.dll");
    }

    /// <summary>The tool's version and location, recorded in stamps and keys so that another compiler makes the model again.</summary>
    public static string Version(string toolAssembly) =>
        $"{System.Reflection.AssemblyName.GetAssemblyName(toolAssembly).Version} {Path.GetFullPath(toolAssembly)}";

    public ToolResult Run(IReadOnlyList<string> arguments, CancellationToken cancellation)
    {
        EnsureExists(toolAssembly);
        var start = new ProcessStartInfo(dotnetHost)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        start.ArgumentList.Add(toolAssembly);
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        log.LogMessage(MessageImportance.Low, "caldera: {0} {1}", dotnetHost, string.Join(" ", start.ArgumentList.Select(Quote)));

        using var process = new Process { StartInfo = start };
        // Lines arrive on two reader threads; the task's own thread logs them (MSBuild loggers expect that).
        using var lines = new BlockingCollection<(bool IsError, string Text)>();
        int openStreams = 2;
        void Receive(bool isError, string? text)
        {
            if (text != null) lines.Add((isError, text));
            else if (Interlocked.Decrement(ref openStreams) == 0) lines.CompleteAdding();
        }
        process.OutputDataReceived += (_, e) => Receive(false, e.Data);
        process.ErrorDataReceived += (_, e) => Receive(true, e.Data);
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new BuildFailure(BuildDiagnostic.ToolMissing,
                $"could not start '{dotnetHost}' to run the caldera tool ({e.Message}); build with the dotnet CLI, or set $(CalderaDotNetHost) to the dotnet executable");
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var kill = cancellation.Register(() =>
        {
            try { process.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { /* it already exited */ }
        });
        var errors = new List<string>();
        foreach (var (isError, text) in lines.GetConsumingEnumerable())
        {
            if (text.StartsWith(ErrorPrefix, StringComparison.Ordinal)) errors.Add(text[ErrorPrefix.Length..]);
            else log.LogMessage(Importance(isError, text), "{0}", text);
        }
        process.WaitForExit();
        cancellation.ThrowIfCancellationRequested();
        return new ToolResult(process.ExitCode, errors);
    }

    /// <summary>
    /// A finished layer, the calibration summary, a fine-tuning step line (about fifty a run) and the final line are worth
    /// seeing in a normal build log; per-matrix lines and usage text are not.
    /// </summary>
    private static MessageImportance Importance(bool isError, string text) =>
        !isError || text.StartsWith("calibration:", StringComparison.Ordinal) || text.EndsWith(" done", StringComparison.Ordinal) || text.Contains("  done  ", StringComparison.Ordinal)
            || text.StartsWith("step ", StringComparison.Ordinal)
            ? MessageImportance.Normal
            : MessageImportance.Low;

    private static string Quote(string argument) => argument.Contains(' ', StringComparison.Ordinal) ? $"\"{argument}\"" : argument;
}
