namespace Caldera.Build.Tasks;

/// <summary>A coded problem found deep inside a task's work; the task logs <see cref="Diagnostic"/> and fails.</summary>
internal sealed class BuildFailure(BuildDiagnostic diagnostic) : Exception(diagnostic.Message)
{
    public BuildFailure(string code, string message) : this(new BuildDiagnostic(code, message)) { }

    public BuildDiagnostic Diagnostic { get; } = diagnostic;
}
