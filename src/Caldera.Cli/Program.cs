using Caldera.Cli;
using Spectre.Console;

// Ctrl+C stops a long compress or eval cleanly (finished layers stay cached); a second Ctrl+C kills the process.
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    if (cancel.IsCancellationRequested) return;
    e.Cancel = true;
    cancel.Cancel();
};
// A live progress display only where a person watches stderr; a log, a pipe or MSBuild gets plain lines.
var terminal = Console.IsErrorRedirected || Environment.GetEnvironmentVariable("TERM") == "dumb"
    ? null
    : AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
return CalderaCli.Run(args, Console.Out, Console.Error, CompressedModelFormat.Cald, cancel.Token, terminal, ownsProcess: true);
