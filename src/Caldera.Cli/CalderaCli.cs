using Caldera.Runtime.Formats;

namespace Caldera.Cli;

/// <summary>
/// The `caldera` command. Each verb lives in its own file; bad input of any kind is a
/// <see cref="ModelFormatException"/> or <see cref="CliUsageException"/> whose message is printed as is,
/// with exit code 2. Tests call <see cref="Run"/> in-process with their own writers.
/// </summary>
internal static class CalderaCli
{
    public const int UsageOrInputError = 2;

    /// <summary>The shell's code for a process stopped by SIGINT (128 + 2).</summary>
    public const int Cancelled = 130;

    /// <summary>An unexpected failure inside Caldera (a bug), reported in one line.</summary>
    public const int InternalError = 1;

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) => Run(args, stdout, stderr, CompressedModelFormat.Cald);

    /// <summary>Runs with <paramref name="format"/> writing (compress) and reading (eval) compressed models.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, CompressedModelFormat format, CancellationToken cancellation = default)
    {
        try
        {
            return args switch
            {
                ["run", .. var rest] => RunCommand.Execute(rest, stdout, stderr),
                ["inspect", .. var rest] => InspectCommand.Execute(rest, stdout, stderr),
                ["compress", .. var rest] => CompressCommand.Execute(rest, stdout, stderr, format, cancellation),
                ["eval", .. var rest] => EvalCommand.Execute(rest, stdout, stderr, format, cancellation),
                ["describe", .. var rest] => DescribeCommand.Execute(rest, stdout, stderr),
                ["--version"] => PrintVersion(stdout),
                [] or ["help" or "--help" or "-h", ..] => Usage.Print(stdout, 0),
                _ => throw new CliUsageException($"unknown command '{args[0]}'"),
            };
        }
        catch (ModelFormatException e)
        {
            stderr.WriteLine($"caldera: {e.Message}");
            return UsageOrInputError;
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            stderr.WriteLine("caldera: cancelled (compress keeps finished layers in <out>.parts/ and resumes from them when rerun)");
            return Cancelled;
        }
        catch (CliUsageException e)
        {
            stderr.WriteLine($"caldera: {e.Message}");
            Usage.Print(stderr, 0);
            return UsageOrInputError;
        }
        catch (AggregateException e) when (e.Flatten().InnerExceptions.All(i => i is ModelFormatException))
        {
            // A bad input found on worker threads (e.g. matrices compressed in parallel) is still a bad input: report the first.
            stderr.WriteLine($"caldera: {e.Flatten().InnerExceptions[0].Message}");
            return UsageOrInputError;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Anything else is a defect in Caldera, not in the input: say so in one line instead of a crash dump.
            var cause = e is AggregateException a ? a.Flatten().InnerExceptions[0] : e;
            stderr.WriteLine($"caldera: internal error ({cause.GetType().Name}): {cause.Message}");
            stderr.WriteLine("caldera: this is a bug in Caldera; please report it with the command line that triggered it.");
            return InternalError;
        }
    }

    private static int PrintVersion(TextWriter stdout)
    {
        stdout.WriteLine(typeof(CalderaCli).Assembly.GetName().Version);
        return 0;
    }
}
