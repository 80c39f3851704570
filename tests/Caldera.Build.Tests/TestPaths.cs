using System.Reflection;

namespace Caldera.Build.Tests;

/// <summary>The repository, the shared test models (../shared/models) and the configuration this test assembly was built in.</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Configuration { get; } = typeof(TestPaths).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "Configuration").Value!;

    public static string SharedModel(string relative) => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "models", relative));

    public static string Stories260KBin => SharedModel("stories260K/stories260K.bin");
    public static string Tok512Model => SharedModel("stories260K/tok512.model");

    /// <summary>TinyStories' validation text (794 kB), a calibration and distillation text for stories260K.</summary>
    public static string TinyStoriesText => SharedModel("text/tinystories_val.txt");

    /// <summary>The built `caldera` CLI (app host and its framework-dependent assemblies).</summary>
    public static string CliOutput => Path.Combine(RepoRoot, "src", "Caldera.Cli", "bin", Configuration, "net10.0");

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CalderaCompiler.sln"))) return dir.FullName;
        throw new InvalidOperationException("CalderaCompiler.sln not found above " + AppContext.BaseDirectory);
    }
}
