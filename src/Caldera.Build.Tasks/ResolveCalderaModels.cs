using System.Text;
using Caldera.Build.Tasks.Models;
using Caldera.Build.Tasks.Tool;
using Caldera.Common;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Caldera.Build.Tasks;

/// <summary>
/// Validates every <c>&lt;CalderaModel&gt;</c> item, fills in defaults (the class name from the file name), and
/// predicts each item's outputs so the compile target can declare <c>Inputs</c>/<c>Outputs</c>. Writes each
/// item's stamp (every parameter and the compiler version) only when it changed, so the stamp's timestamp
/// moves exactly when a parameter does. Runs on every build; it is cheap.
/// </summary>
public sealed class ResolveCalderaModels : Microsoft.Build.Utilities.Task
{
    /// <summary>The project's <c>@(CalderaModel)</c> items.</summary>
    [Required] public ITaskItem[] Models { get; set; } = [];

    [Required] public string ProjectDirectory { get; set; } = "";

    /// <summary><c>$(RootNamespace)</c>, used when an item sets no <c>Namespace</c>.</summary>
    public string DefaultNamespace { get; set; } = "";

    /// <summary>Where the .cald, manifest and stamp files go: <c>$(IntermediateOutputPath)caldera/</c>.</summary>
    [Required] public string OutputDirectory { get; set; } = "";

    [Required] public string ToolAssembly { get; set; } = "";

    public string EmbedThreshold { get; set; } = "";

    /// <summary>True when a NativeAOT publish also carries the x86-64-v4 executable: <c>auto</c> storage is then the trailer.</summary>
    public bool PublishesVariant { get; set; }

    /// <summary>One item per model, identity = the absolute input path, with the metadata the later targets use.</summary>
    [Output] public ITaskItem[] ResolvedModels { get; private set; } = [];

    public override bool Execute()
    {
        try
        {
            long threshold = ModelStorage.ParseThreshold(EmbedThreshold);
            CalderaTool.EnsureExists(ToolAssembly);
            string toolVersion = CalderaTool.Version(ToolAssembly);
            string outputDirectory = Path.GetFullPath(OutputDirectory, ProjectDirectory);

            var resolved = new List<ITaskItem>();
            var names = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var item in Models)
            {
                var diagnostics = new List<BuildDiagnostic>();
                var settings = ModelSettingsParser.Parse(item.ItemSpec, item.GetMetadata, ProjectDirectory, DefaultNamespace, diagnostics);
                if (settings != null && !names.TryAdd(settings.Name, item.ItemSpec))
                    diagnostics.Add(new BuildDiagnostic(BuildDiagnostic.NameDuplicate,
                        $"CalderaModel '{item.ItemSpec}': Name=\"{settings.Name}\" is also the name of CalderaModel '{names[settings.Name]}' (names are compared ignoring case, as file names); give each model its own Name"));
                foreach (var diagnostic in diagnostics) Log.Report(diagnostic, item.GetMetadata("DefiningProjectFullPath"));
                if (settings == null || diagnostics.Count > 0) continue;
                resolved.Add(Resolve(item, settings, outputDirectory, toolVersion, threshold));
            }
            ResolvedModels = [.. resolved];
        }
        catch (BuildFailure failure)
        {
            Log.Report(failure.Diagnostic);
        }
        return !Log.HasLoggedErrors;
    }

    private TaskItem Resolve(ITaskItem item, ModelSettings settings, string outputDirectory, string toolVersion, long threshold)
    {
        Directory.CreateDirectory(outputDirectory);
        string stampPath = Path.Combine(outputDirectory, settings.Name + ".stamp");
        WriteIfChanged(stampPath, settings.Stamp(toolVersion, threshold, PublishesVariant));

        var resolved = new TaskItem(settings.InputPath);
        resolved.SetMetadata("OriginalItemSpec", item.ItemSpec);
        resolved.SetMetadata("ProjectFile", item.GetMetadata("DefiningProjectFullPath"));
        resolved.SetMetadata("Name", settings.Name);
        resolved.SetMetadata("Namespace", settings.Namespace);
        resolved.SetMetadata("Rank", item.GetMetadata("Rank"));
        resolved.SetMetadata("QBits", item.GetMetadata("QBits"));
        resolved.SetMetadata("LRBits", item.GetMetadata("LRBits"));
        resolved.SetMetadata("Calibration", settings.CalibrationPath ?? "");
        resolved.SetMetadata("Tokenizer", settings.TokenizerPath ?? "");
        resolved.SetMetadata("Preset", settings.Preset);
        resolved.SetMetadata("Method", settings.Method);
        resolved.SetMetadata("Storage", settings.Storage);
        resolved.SetMetadata("MaxMemory", settings.MaxMemory ?? "");
        foreach (string distill in (string[])["Distill", "DistillSteps", "DistillLearningRate", "DistillRank", "DistillSequenceLength"])
            resolved.SetMetadata(distill, item.GetMetadata(distill));
        resolved.SetMetadata("ResourceName", settings.ResourceName);
        resolved.SetMetadata("CaldPath", Path.Combine(outputDirectory, settings.Name + ".cald"));
        resolved.SetMetadata("DescriptionPath", Path.Combine(outputDirectory, settings.Name + ".model.json"));
        resolved.SetMetadata("StampPath", stampPath);
        resolved.SetMetadata("InputFiles", string.Join(";", settings.InputFiles()));
        return resolved;
    }

    private static void WriteIfChanged(string path, string content)
    {
        if (File.Exists(path) && File.ReadAllText(path, Encoding.UTF8) == content) return;
        AtomicFile.WriteAllBytes(path, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(content));
    }
}
