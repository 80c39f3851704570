namespace Caldera.Compiler.Tests;

/// <summary>Paths of the shared test data, which lives beside the repository root (../shared/models).</summary>
internal static class TestModels
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Shared(string relative) => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "models", relative));

    public static string Stories260KBin => Shared("stories260K/stories260K.bin");
    public static string Tok512Model => Shared("stories260K/tok512.model");

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CalderaCompiler.sln"))) return dir.FullName;
        throw new InvalidOperationException("CalderaCompiler.sln not found above " + AppContext.BaseDirectory);
    }
}
