namespace Caldera.Compiler.Tests;

/// <summary>Paths of the shared test data beside the repository root (../shared/models), as in the runtime tests.</summary>
internal static class TestModels
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Shared(string relative) => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "models", relative));

    public static string Stories260KBin => Shared("stories260K/stories260K.bin");
    public static string Tok512Model => Shared("stories260K/tok512.model");
    public static string TinyStoriesText => Shared("text/tinystories_val.txt");

    /// <summary>The first <paramref name="characters"/> characters of the TinyStories validation text.</summary>
    public static string TinyStoriesPrefix(int characters)
    {
        using var reader = new StreamReader(TinyStoriesText);
        var buffer = new char[characters];
        int read = reader.ReadBlock(buffer, 0, characters);
        return new string(buffer, 0, read);
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CalderaCompiler.sln"))) return dir.FullName;
        throw new InvalidOperationException("CalderaCompiler.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>A fresh directory under the system temp folder, deleted with everything in it on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("caldera-compiler-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp folder must not fail a test.
        }
    }
}
