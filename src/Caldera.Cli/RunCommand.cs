namespace Caldera.Cli;

/// <summary><c>caldera run</c>: generate text from a prompt, as llama2.c's <c>run</c> does.</summary>
internal static class RunCommand
{
    public static int Execute(string[] args) => throw new CliUsageException("'run' is not implemented yet");
}
