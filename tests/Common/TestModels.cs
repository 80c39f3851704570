namespace Caldera.Tests;

/// <summary>Paths of the shared test data, which lives beside the repository root (../shared/models).</summary>
internal static class TestModels
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Shared(string relative) => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "models", relative));

    public static string Stories260KBin => Shared("stories260K/stories260K.bin");
    public static string Tok512Model => Shared("stories260K/tok512.model");
    public static string Stories260KGguf => Shared("stories260K-gguf/tinyllamas-stories-260k-f32.gguf");
    public static string TinyRandomGguf => Shared("llama-2-tiny-random-gguf/llama-2-tiny-random.gguf");
    public static string TinyStories256dGguf => Shared("tinystories-256d/tinystories-256d-f32.gguf");
    public static string Llama2TokenizerModel => Shared("llama2-tokenizer/tokenizer.model");
    public static string Llama3TokenizerJson => Shared("llama3-tokenizer/tokenizer.json");
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
