using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;
using Caldera.Runtime.Formats;
using Spectre.Console;

namespace Caldera.Cli;

/// <summary>
/// The `caldera` command. Each verb lives in its own file and builds its <see cref="Command"/>; System.CommandLine
/// parses, prints <c>--help</c> and <c>--version</c>, and offers tab completion (<c>dotnet-suggest</c>). A command
/// line it rejects, and bad input of any kind (a <see cref="ModelFormatException"/> or <see cref="CliUsageException"/>),
/// is reported as <c>caldera: …</c> lines on stderr with exit code 2. Tests call <see cref="Run"/> in-process with their own writers.
/// </summary>
internal static class CalderaCli
{
    public const int UsageOrInputError = 2;

    /// <summary>The shell's code for a process stopped by SIGINT (128 + 2).</summary>
    public const int Cancelled = 130;

    /// <summary>An unexpected failure inside Caldera (a bug), reported in one line.</summary>
    public const int InternalError = 1;

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) => Run(args, stdout, stderr, CompressedModelFormat.Cald);

    /// <summary>
    /// Runs with <paramref name="format"/> writing (compress) and reading (eval) compressed models; progress goes to
    /// <paramref name="terminal"/> as a live display when given, otherwise as plain lines to <paramref name="stderr"/>.
    /// </summary>
    /// <param name="ownsProcess">
    /// Whether this run is the whole process (the caldera executable): only then may a verb change process-wide
    /// settings, such as the GC heap limit of <c>compress --max-memory</c>. Tests that run verbs in-process pass false.
    /// </param>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, CompressedModelFormat format, CancellationToken cancellation = default,
        IAnsiConsole? terminal = null, bool ownsProcess = false)
    {
        var cli = new CliContext(stdout, stderr, format, cancellation, terminal, ownsProcess);
        // `caldera` alone and `caldera help [verb]` show the help, as `caldera [verb] --help` does.
        args = args switch
        {
            [] => ["--help"],
            ["help", .. var verb] => [.. verb, "--help"],
            _ => args,
        };
        var root = Commands(cli);
        var parsed = root.Parse(args);
        // --help and --version clear the parse errors; any other error stops here.
        if (parsed.Action is ParseErrorAction)
        {
            string verb = parsed.CommandResult.Command == root ? "" : parsed.CommandResult.Command.Name + ": ";
            foreach (string message in parsed.Errors.Select(e => e.Message).Distinct())
                stderr.WriteLine($"caldera: {verb}{message}");
            stderr.WriteLine($"see 'caldera {verb.TrimEnd(':', ' ')}{(verb.Length > 0 ? " " : "")}--help' for the options and their defaults");
            return UsageOrInputError;
        }
        try
        {
            return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
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
            stderr.WriteLine($"see 'caldera {parsed.CommandResult.Command.Name} --help' for the options and their defaults");
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

    /// <summary>The whole command tree; what <c>caldera --help</c> lists, in this order.</summary>
    internal static RootCommand Commands(CliContext cli)
    {
        var root = new RootCommand(
            "Caldera compresses Llama checkpoints (W ≈ Q + L·R: 2-bit lattice Q, low-rank L and R), runs them, describes them for the build and reports on them.\n" +
            "A <model> is a Hugging Face directory (config.json + *.safetensors), a .gguf file, a llama2.c .bin or a compressed .cald model.")
        {
            RunCommand.Create(cli),
            InspectCommand.Create(cli),
            CompressCommand.Create(cli),
            EvalCommand.Create(cli),
            DescribeCommand.Create(cli),
            Report.ReportCommand.Create(cli),
            FineTuneCommand.Create(cli),
            AdapterCommand.Create(cli),
        };
        // Named and versioned as the tool, whichever process hosts it (a test runner, `dotnet caldera.dll`).
        root.HelpName = "caldera";
        root.Options.OfType<VersionOption>().Single().Action = new PrintVersion();
        return root;
    }

    private sealed class PrintVersion : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            var assembly = typeof(CalderaCli).Assembly;
            parseResult.InvocationConfiguration.Output.WriteLine(
                assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? assembly.GetName().Version!.ToString());
            return 0;
        }
    }
}

/// <summary>
/// What every verb writes to and reads with, for one invocation. <see cref="Terminal"/> is stderr when it is a terminal,
/// for live displays; null when stderr is redirected (a log, a pipe, MSBuild), where progress is plain lines.
/// <see cref="OwnsProcess"/>: see <see cref="CalderaCli.Run(string[], TextWriter, TextWriter, CompressedModelFormat, CancellationToken, IAnsiConsole?, bool)"/>.
/// </summary>
internal sealed record CliContext(TextWriter Out, TextWriter Error, CompressedModelFormat Format, CancellationToken Cancellation, IAnsiConsole? Terminal,
    bool OwnsProcess = false);
