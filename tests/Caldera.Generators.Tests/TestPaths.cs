namespace Caldera.Generators.Tests;

/// <summary>Paths of the repository and the shared test data (../shared/models beside the repository root).</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Baselines => Path.Combine(RepoRoot, "tests", "Caldera.Generators.Tests", "Baselines");

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
