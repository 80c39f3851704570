namespace Caldera.Cli;

/// <summary><c>caldera run</c>: generate text from a prompt, as llama2.c's <c>run</c> does.</summary>
internal static class RunCommand
{
    public static int Execute(string[] args, TextWriter stdout, TextWriter stderr) => throw new CliUsageException("'run' is not implemented yet");
}
