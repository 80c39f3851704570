using System.Globalization;
using System.Text;

namespace Caldera.Build.Tasks.Models;

/// <summary>
/// One validated <c>&lt;CalderaModel&gt;</c> item: what to compress, how, and under which name the generated
/// class and the embedded file appear. Paths are absolute. Built by <see cref="ModelSettingsParser"/>.
/// </summary>
internal sealed record ModelSettings(
    string ItemSpec,
    string InputPath,
    string Name,
    string Namespace,
    int Rank,
    int QBits,
    int LRBits,
    string? CalibrationPath,
    string? TokenizerPath,
    string Preset,
    string Method,
    string Storage)
{
    /// <summary>An input that is already a compressed model is copied, not compressed again.</summary>
    public bool IsCompressed => InputPath.EndsWith(".cald", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// <c>--max-memory</c>'s value (8G, 512M…), or null for no cap. Left out of <see cref="Stamp"/>: like the thread
    /// count it changes how much runs at once, never the compressed model.
    /// </summary>
    public string? MaxMemory { get; init; }

    /// <summary>Set by <c>Distill="true"</c>: the compressed model is distilled toward <see cref="InputPath"/> on <see cref="CalibrationPath"/>.</summary>
    public DistillSettings? Distill { get; init; }

    /// <summary>The manifest resource name (contract section 3); unique because <see cref="Name"/> is unique per project.</summary>
    public string ResourceName => $"Caldera.Models.{Name}.cald";

    /// <summary>Every file the compressed model depends on, for the target's <c>Inputs</c>: a Hugging Face
    /// directory counts by its files (a directory's own timestamp does not change when a file inside does).</summary>
    public IEnumerable<string> InputFiles()
    {
        if (Directory.Exists(InputPath))
            foreach (string file in Directory.EnumerateFiles(InputPath).Order(StringComparer.Ordinal)) yield return file;
        else yield return InputPath;
        if (CalibrationPath != null) yield return CalibrationPath;
        if (TokenizerPath != null) yield return TokenizerPath;
    }

    /// <summary><c>caldera compress</c>'s arguments; <c>--rank</c> only for CALDERA, the one method with low-rank factors.</summary>
    public List<string> CompressArguments(string output)
    {
        var args = new List<string> { "compress", InputPath, "-o", output, "--method", Method, "--preset", Preset,
            "--q-bits", Invariant(QBits), "--lr-bits", Invariant(LRBits) };
        if (Method == "caldera") args.AddRange(["--rank", Invariant(Rank)]);
        if (CalibrationPath != null) args.AddRange(["--calibration", CalibrationPath]);
        if (TokenizerPath != null) args.AddRange(["--tokenizer", TokenizerPath]);
        if (MaxMemory != null) args.AddRange(["--max-memory", MaxMemory]);
        return args;
    }

    /// <summary>
    /// What a compression made by this tool depends on besides the contents of <see cref="InputFiles"/>: the tool and
    /// <c>caldera compress</c>'s arguments but the memory cap. A distilling build keeps its undistilled model beside this
    /// key, and reuses it while the key is the same, so that changing only a distill setting does not compress again.
    /// </summary>
    public string CompressionKey(string toolVersion) =>
        toolVersion + "\n" + string.Join("\n", (this with { MaxMemory = null }).CompressArguments("(output)")) + "\n";

    /// <summary><c>caldera describe</c>'s arguments, exactly as contract section 2 gives them.</summary>
    public List<string> DescribeArguments(string caldPath, string storage, string output) =>
        ["describe", caldPath, "--name", Name, "--namespace", Namespace, "--storage", storage, "--resource-name", ResourceName, "-o", output];

    /// <summary>
    /// Every parameter that changes the outputs, one per line. The targets write it to a stamp file only when it
    /// changes and list that file in <c>Inputs</c>, so changing <c>Rank</c> (or updating the compiler) recompresses.
    /// </summary>
    public string Stamp(string toolVersion, long embedThreshold, bool publishesVariant)
    {
        var s = new StringBuilder();
        s.Append("caldera=").AppendLine(toolVersion);
        s.Append("input=").AppendLine(InputPath);
        s.Append("name=").AppendLine(Name);
        s.Append("namespace=").AppendLine(Namespace);
        s.Append("method=").AppendLine(Method);
        s.Append("preset=").AppendLine(Preset);
        s.Append("rank=").AppendLine(Invariant(Rank));
        s.Append("q-bits=").AppendLine(Invariant(QBits));
        s.Append("lr-bits=").AppendLine(Invariant(LRBits));
        s.Append("calibration=").AppendLine(CalibrationPath ?? "(built-in)");
        s.Append("tokenizer=").AppendLine(TokenizerPath ?? "(beside the checkpoint)");
        s.Append("distill=").AppendLine(Distill?.Summary ?? "no");
        s.Append("storage=").AppendLine(Storage);
        s.Append("embed-threshold=").AppendLine(Invariant(embedThreshold));
        s.Append("x86-64-v4-variant=").AppendLine(publishesVariant ? "yes" : "no");
        return s.ToString();
    }

    private static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);
}
