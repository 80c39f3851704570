namespace Caldera.Cli;

/// <summary>A wrong command line: unknown verb, missing or malformed option. Exit code 2.</summary>
internal sealed class CliUsageException(string message) : Exception(message);
