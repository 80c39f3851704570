using System.Globalization;
using Caldera.Common;

namespace Caldera.Build.Tasks.Models;

/// <summary>
/// Checks a <c>&lt;CalderaModel&gt;</c> item's metadata before anything runs, so a typo fails the build in a
/// second with a coded error naming the item, the metadata and the fix, instead of minutes into a compression.
/// Every problem of every item is reported, not only the first.
/// </summary>
internal static class ModelSettingsParser
{
    public const int MaxRank = 4096;

    private static readonly string[] Presets = ["fast", "paper"];
    private static readonly string[] Methods = ["caldera", "ldlq", "rtn"];

    /// <param name="metadata">The item's metadata by name, "" when absent (as <c>ITaskItem.GetMetadata</c> returns).</param>
    /// <returns>The settings, or null when <paramref name="diagnostics"/> received an error.</returns>
    public static ModelSettings? Parse(string itemSpec, Func<string, string> metadata, string projectDirectory, string defaultNamespace,
        List<BuildDiagnostic> diagnostics)
    {
        int errorsBefore = diagnostics.Count;
        void Error(string code, string message) => diagnostics.Add(new BuildDiagnostic(code, $"CalderaModel '{itemSpec}': {message}"));

        string input = Path.GetFullPath(itemSpec, projectDirectory);
        if (!File.Exists(input) && !Directory.Exists(input))
            Error(BuildDiagnostic.InputMissing, $"the checkpoint '{input}' does not exist; set Include to a llama2.c .bin, a .gguf, a Hugging Face directory or a .cald file (relative to the project folder)");

        string name = metadata("Name").Trim();
        if (name.Length == 0) name = CSharpNames.FromFileName(Path.GetFileNameWithoutExtension(Path.TrimEndingDirectorySeparator(input)));
        else if (!CSharpNames.IsIdentifier(name))
            Error(BuildDiagnostic.NameInvalid, $"Name=\"{name}\" is not a C# identifier, and it names the generated class; use letters, digits and '_', not starting with a digit, and not a keyword (e.g. Name=\"Stories\")");

        string ns = metadata("Namespace").Trim();
        if (ns.Length == 0) ns = defaultNamespace.Trim().Length > 0 ? CSharpNames.NamespaceFrom(defaultNamespace.Trim()) : "Caldera.Models";
        else if (!CSharpNames.IsNamespace(ns))
            Error(BuildDiagnostic.NamespaceInvalid, $"Namespace=\"{ns}\" is not a C# namespace; use dotted identifiers (e.g. Namespace=\"StoryTeller.Models\"), or remove it to use $(RootNamespace)");

        string method = Choice(metadata("Method"), "Method", Methods, BuildDiagnostic.MethodInvalid, Error);
        string preset = Choice(metadata("Preset"), "Preset", Presets, BuildDiagnostic.PresetInvalid, Error);
        string storage = Choice(metadata("Storage"), "Storage", ModelStorage.Choices, BuildDiagnostic.StorageInvalid, Error);

        int rank = Integer(metadata("Rank"), "Rank", r => r is >= 1 and <= MaxRank, $"an integer from 1 to {MaxRank}",
            "the rank of the low-rank factors L·R; higher is more accurate and larger, default 64", BuildDiagnostic.RankInvalid, Error);
        int lrBits = Integer(metadata("LRBits"), "LRBits", b => b is 4 or 16, "4 or 16",
            "4 = lattice-quantized factors, the default; 16 = half precision", BuildDiagnostic.LRBitsInvalid, Error);
        int qBits = method == "rtn"
            ? Integer(metadata("QBits"), "QBits", b => b is >= 2 and <= 8, "an integer from 2 to 8", "the bits per weight of round-to-nearest Q",
                BuildDiagnostic.QBitsInvalid, Error)
            : Integer(metadata("QBits"), "QBits", b => b == 2, "2", $"Q is the 2-bit E8P lattice for Method=\"{method}\"; for other widths set Method=\"rtn\"",
                BuildDiagnostic.QBitsInvalid, Error);

        string? calibration = ReadableFile(metadata("Calibration"), "Calibration", projectDirectory, BuildDiagnostic.CalibrationUnreadable,
            "a UTF-8 text sample of what the model will read, or remove Calibration to use the built-in text", Error);
        string? tokenizer = ReadableFile(metadata("Tokenizer"), "Tokenizer", projectDirectory, BuildDiagnostic.TokenizerUnreadable,
            "the model's tokenizer.model or tokenizer.json, or remove Tokenizer to use the one beside or inside the checkpoint", Error);

        string maxMemory = metadata("MaxMemory").Trim();
        if (maxMemory.Length > 0 && !MemorySize.TryParse(maxMemory, out _))
            Error(BuildDiagnostic.MaxMemoryInvalid, $"MaxMemory=\"{maxMemory}\" is not a memory size; set MaxMemory (or $(CalderaMaxMemory)) to {MemorySize.Forms}, or remove it for no cap");

        if (diagnostics.Count > errorsBefore) return null;
        return new ModelSettings(itemSpec, input, name, ns, rank, qBits, lrBits, calibration, tokenizer, preset, method, storage)
        {
            MaxMemory = maxMemory.Length > 0 ? maxMemory : null,
        };
    }

    private static string Choice(string value, string metadataName, string[] choices, string code, Action<string, string> error)
    {
        string normalized = value.Trim().ToLowerInvariant();
        if (normalized.Length == 0) normalized = choices[0];
        if (!choices.Contains(normalized))
            error(code, $"{metadataName}=\"{value}\" is not one of {string.Join(", ", choices)}; set {metadataName} to one of them");
        return normalized;
    }

    /// <returns>The value, or -1 after reporting an error.</returns>
    private static int Integer(string value, string metadataName, Func<int, bool> valid, string expected, string meaning, string code,
        Action<string, string> error)
    {
        if (!int.TryParse(value.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int parsed))
        {
            error(code, $"{metadataName}=\"{value}\" is not a whole number; set {metadataName} to {expected} ({meaning})");
            return -1;
        }
        if (!valid(parsed))
        {
            error(code, $"{metadataName}=\"{value}\" is not available; set {metadataName} to {expected} ({meaning})");
            return -1;
        }
        return parsed;
    }

    /// <summary>An optional file that must exist and open for reading; null when the metadata is empty.</summary>
    private static string? ReadableFile(string value, string metadataName, string projectDirectory, string code, string expected, Action<string, string> error)
    {
        if (value.Trim().Length == 0) return null;
        string path = Path.GetFullPath(value.Trim(), projectDirectory);
        if (Directory.Exists(path))
        {
            error(code, $"{metadataName}=\"{value}\" is a folder, not a file; set {metadataName} to {expected}");
            return null;
        }
        if (!File.Exists(path))
        {
            error(code, $"{metadataName}=\"{value}\" does not exist (looked for '{path}'); set {metadataName} to {expected}");
            return null;
        }
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error(code, $"{metadataName}=\"{value}\" cannot be read ({e.Message}); make the file readable, or set {metadataName} to {expected}");
            return null;
        }
        return path;
    }
}
