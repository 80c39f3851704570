using Caldera.Cli;

// Ctrl+C stops a long compress or eval cleanly (finished layers stay cached); a second Ctrl+C kills the process.
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    if (cancel.IsCancellationRequested) return;
    e.Cancel = true;
    cancel.Cancel();
};
return CalderaCli.Run(args, Console.Out, Console.Error, CompressedModelFormat.Cald, cancel.Token);
