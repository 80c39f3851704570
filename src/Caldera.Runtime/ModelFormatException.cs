namespace Caldera;

/// <summary>
/// The one error the runtime raises for a model, tokenizer or config it cannot use. The message always
/// names the file, then the tensor or setting at fault, then what is wrong, so a user can act on it
/// without a stack trace (the CLI prints only the message and exits with code 2).
/// </summary>
public sealed class ModelFormatException : Exception
{
    public ModelFormatException(string path, string problem, Exception? inner = null)
        : base($"{path}: {problem}", inner)
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
        new(path, $"tensor '{tensor}': {problem}");

    /// <summary>Raises the error for a config setting of <paramref name="path"/>.</summary>
    internal static ModelFormatException ForSetting(string path, string setting, string problem) =>
        new(path, $"setting '{setting}': {problem}");
}
