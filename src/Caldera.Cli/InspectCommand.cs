namespace Caldera.Cli;

/// <summary><c>caldera inspect</c>: print the architecture, every tensor and the parameter count.</summary>
internal static class InspectCommand
{
    public static int Execute(string[] args, TextWriter stdout, TextWriter stderr) => throw new CliUsageException("'inspect' is not implemented yet");
}
