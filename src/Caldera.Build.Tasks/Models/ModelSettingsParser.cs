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

    /// <summary>Far beyond a build-time distillation: the default 250 steps of tinystories-256d take about five minutes on two cores.</summary>
    public const int MaxDistillSteps = 1_000_000;

    /// <summary>Llama 3.1's context, the longest of the Llama family; a window longer than the model's own is the tool's error (CALD1022).</summary>
    public const int MaxDistillSequenceLength = 131_072;

    /// <summary>No useful AdamW rate for these factors is near it (the measured ones are 5e-4 and 2e-3); a rate below it whose loss diverges is the tool's error (CALD1022).</summary>
    public const float MaxDistillLearningRate = 1f;

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

        var distill = ParseDistill(metadata, input, method, metadata("Calibration").Trim().Length > 0, Error);

        if (diagnostics.Count > errorsBefore) return null;
        return new ModelSettings(itemSpec, input, name, ns, rank, qBits, lrBits, calibration, tokenizer, preset, method, storage)
        {
            MaxMemory = maxMemory.Length > 0 ? maxMemory : null,
            Distill = distill,
        };
    }

    /// <summary>
    /// <c>Distill</c> and its settings, or null when it is off. The settings are checked only when it is on: they mean
    /// nothing otherwise. Distillation needs the full-precision checkpoint as its teacher, low-rank factors to train,
    /// and a text to run both models on; there is no built-in text to fall back on, since the distillation should see
    /// what the app will read.
    /// </summary>
    private static DistillSettings? ParseDistill(Func<string, string> metadata, string input, string method, bool hasCalibration,
        Action<string, string> error)
    {
        string value = metadata("Distill").Trim();
        if (value.Length == 0 || value.Equals("false", StringComparison.OrdinalIgnoreCase)) return null;
        if (!value.Equals("true", StringComparison.OrdinalIgnoreCase))
        {
            error(BuildDiagnostic.DistillInvalid, $"Distill=\"{value}\" is not true or false; set Distill=\"true\" to distil the compressed model toward its checkpoint, or remove it");
            return null;
        }
        if (input.EndsWith(".cald", StringComparison.OrdinalIgnoreCase))
            error(BuildDiagnostic.DistillUnavailable, "Distill=\"true\" needs the full-precision checkpoint to distil toward, and this item is an already compressed .cald; set Include to the checkpoint it was compressed from, or remove Distill");
        else if (method != "caldera")
            error(BuildDiagnostic.DistillUnavailable, $"Distill=\"true\" trains the low-rank factors L·R, and Method=\"{method}\" has none; set Method=\"caldera\", or remove Distill");
        if (!hasCalibration)
            error(BuildDiagnostic.DistillWithoutCalibration, "Distill=\"true\" runs the model and its checkpoint on the calibration text, and the item has none; set Calibration to a UTF-8 text sample of what the app will read, or remove Distill");

        const string code = BuildDiagnostic.DistillSettingInvalid;
        int steps = Integer(metadata("DistillSteps"), "DistillSteps", n => n is >= 1 and <= MaxDistillSteps, $"an integer from 1 to {MaxDistillSteps}",
            "optimizer steps of one window each; default 250", code, error);
        int rank = Integer(metadata("DistillRank"), "DistillRank", r => r is >= 1 and <= MaxRank, $"an integer from 1 to {MaxRank}",
            "the top ranks of each matrix's factors that train; default 16", code, error);
        int sequenceLength = Integer(metadata("DistillSequenceLength"), "DistillSequenceLength", l => l is >= 2 and <= MaxDistillSequenceLength,
            $"an integer from 2 to {MaxDistillSequenceLength}", "tokens per training window, at most the model's context; default 128", code, error);
        string rateText = metadata("DistillLearningRate").Trim();
        if (!float.TryParse(rateText, NumberStyles.Float, CultureInfo.InvariantCulture, out float rate) || !(rate is > 0 and <= MaxDistillLearningRate))
        {
            error(code, $"DistillLearningRate=\"{rateText}\" is not a number above 0 and at most {MaxDistillLearningRate.ToString(CultureInfo.InvariantCulture)}; set DistillLearningRate to the peak AdamW learning rate, such as 0.002 (the default)");
            return null;
        }
        return steps < 0 || rank < 0 || sequenceLength < 0 ? null : new DistillSettings(steps, rate, rank, sequenceLength);
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
