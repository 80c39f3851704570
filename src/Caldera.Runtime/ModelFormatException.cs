namespace Caldera;

/// <summary>
/// The one error the runtime raises for a model, tokenizer or config it cannot use. The message always
/// names the file, then the tensor or setting at fault, then what is wrong, so a user can act on it
/// without a stack trace (the CLI prints only the message and exits with code 2).
/// </summary>
public sealed class ModelFormatException : Exception
{
    /// <summary>A name (tensor, key, token) longer than this is cut in messages: a corrupt file can hold megabyte-long ones.</summary>
    private const int MaxNameLength = 120;

    /// <summary>The most of <see cref="Problem"/> a message shows, for what a name cut does not catch.</summary>
    private const int MaxProblemLength = 2000;

    public ModelFormatException(string path, string problem, Exception? inner = null)
        : base($"{Cut(path, MaxProblemLength)}: {Cut(problem, MaxProblemLength)}", inner)
    {
        FilePath = path;
        Problem = problem;
    }

    /// <summary>The file (or directory) being read.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong, without the path.</summary>
    public string Problem { get; }

    /// <summary>Raises the error for a tensor of <paramref name="path"/>.</summary>
    internal static ModelFormatException ForTensor(string path, string tensor, string problem) =>
        new(path, $"tensor '{Cut(tensor, MaxNameLength)}': {problem}");

    /// <summary>Raises the error for a config setting of <paramref name="path"/>.</summary>
    internal static ModelFormatException ForSetting(string path, string setting, string problem) =>
        new(path, $"setting '{Cut(setting, MaxNameLength)}': {problem}");

    /// <summary><paramref name="text"/>, or its start and its length when it is longer than <paramref name="max"/>.</summary>
    internal static string Cut(string text, int max = MaxNameLength) =>
        text.Length <= max ? text : $"{text[..max]}… ({text.Length} characters)";
}
