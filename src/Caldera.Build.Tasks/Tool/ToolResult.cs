namespace Caldera.Build.Tasks.Tool;

/// <summary>How a run of the <c>caldera</c> tool ended: its exit code and the <c>caldera: …</c> lines it printed.</summary>
internal sealed record ToolResult(int ExitCode, IReadOnlyList<string> Errors)
{
    /// <summary>The tool's code for bad input (a corrupt checkpoint, a wrong setting): the user can fix it.</summary>
    public const int InputError = 2;

    /// <summary>The tool stopped on SIGINT (128 + 2).</summary>
    public const int Cancelled = 130;

    public bool Succeeded => ExitCode == 0;

    public string ErrorText => Errors.Count == 0 ? $"exit code {ExitCode} and no message" : string.Join(" ", Errors);
}
