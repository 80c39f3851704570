using Caldera.Build.Tasks.Models;
using Caldera.Build.Tasks.Tool;
using Caldera.Common;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Caldera.Build.Tasks;

/// <summary>
/// For each resolved <c>&lt;CalderaModel&gt;</c>: <c>caldera compress</c> (or a copy, for an input that is
/// already a .cald) into <c>&lt;Name&gt;.cald</c>, then <c>caldera describe</c> into <c>&lt;Name&gt;.model.json</c>,
/// the source generator's input. Both outputs are written under a temporary name and renamed into place. The
/// target around this task is skipped when its outputs are newer than the inputs and the parameter stamp.
/// </summary>
/// <remarks>
/// The tool's exit code decides the error: 2 is bad input the user can fix (its message already names the file
/// and the fix, and is relayed under a CALD code), 1 an internal failure. Cancelling (Ctrl+C in the build) kills
/// the tool's process tree; a compression killed that way resumes from its finished layers on the next build.
/// </remarks>
public sealed class CompileCalderaModels : Microsoft.Build.Utilities.Task, ICancelableTask
{
    private readonly CancellationTokenSource _cancellation = new();

    /// <summary>Items from <see cref="ResolveCalderaModels"/>.</summary>
    [Required] public ITaskItem[] Models { get; set; } = [];

    [Required] public string ProjectDirectory { get; set; } = "";

    [Required] public string ToolAssembly { get; set; } = "";

    /// <summary>The <c>dotnet</c> executable that runs the tool; empty means <c>dotnet</c> on the PATH.</summary>
    public string DotNetHost { get; set; } = "";

    public string EmbedThreshold { get; set; } = "";

    /// <summary>True when a NativeAOT publish also carries the x86-64-v4 executable: <c>auto</c> storage is then the trailer.</summary>
    public bool PublishesVariant { get; set; }

    public void Cancel() => _cancellation.Cancel();

    public override bool Execute()
    {
        var tool = new CalderaTool(DotNetHost.Length > 0 ? DotNetHost : "dotnet", ToolAssembly, Log);
        try
        {
            long threshold = ModelStorage.ParseThreshold(EmbedThreshold);
            foreach (var item in Models)
            {
                string itemSpec = item.GetMetadata("OriginalItemSpec") is { Length: > 0 } original ? original : item.ItemSpec;
                string project = item.GetMetadata("ProjectFile");
                var diagnostics = new List<BuildDiagnostic>();
                var settings = ModelSettingsParser.Parse(itemSpec, item.GetMetadata, ProjectDirectory, "", diagnostics);
                foreach (var diagnostic in diagnostics) Log.Report(diagnostic, project);
                if (settings == null) continue;
                try
                {
                    Compile(tool, settings, item.GetMetadata("CaldPath"), item.GetMetadata("DescriptionPath"), threshold);
                }
                catch (BuildFailure failure)
                {
                    Log.Report(failure.Diagnostic, project);
                }
            }
        }
        catch (BuildFailure failure)
        {
            Log.Report(failure.Diagnostic);
        }
        catch (OperationCanceledException)
        {
            Log.LogMessage(MessageImportance.High, "Caldera: cancelled; the next build resumes the compression from its finished layers");
            return false;
        }
        return !Log.HasLoggedErrors;
    }

    private void Compile(CalderaTool tool, ModelSettings settings, string caldPath, string descriptionPath, long threshold)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(caldPath)!);
        if (settings.IsCompressed)
        {
            Log.LogMessage(MessageImportance.Normal, "Caldera: {0} is already compressed; copying it to {1}", settings.ItemSpec, caldPath);
            AtomicFile.Copy(settings.InputPath, caldPath);
        }
        else
        {
            Log.LogMessage(MessageImportance.High, "Caldera: compressing {0} ({1}, rank {2}, Q {3}-bit, factors {4}-bit) -> {5}",
                settings.ItemSpec, settings.Method, settings.Rank, settings.QBits, settings.LRBits, caldPath);
            // A stable temporary name: its <name>.parts/ layer cache lets a cancelled compression resume.
            string temporary = AtomicFile.TemporaryFor(caldPath);
            var result = tool.Run(settings.CompressArguments(temporary), _cancellation.Token);
            Check(result, "compress", BuildDiagnostic.CompressRejected, settings);
            AtomicFile.Commit(temporary, caldPath);
        }

        string storage = ModelStorage.Resolve(settings.Storage, new FileInfo(caldPath).Length, threshold, PublishesVariant);
        string temporaryDescription = AtomicFile.TemporaryFor(descriptionPath);
        var described = tool.Run(settings.DescribeArguments(caldPath, storage, temporaryDescription), _cancellation.Token);
        Check(described, "describe", BuildDiagnostic.DescribeRejected, settings);
        AtomicFile.Commit(temporaryDescription, descriptionPath);
    }

    private static void Check(ToolResult result, string verb, string inputErrorCode, ModelSettings settings)
    {
        if (result.Succeeded) return;
        if (result.ExitCode == ToolResult.Cancelled) throw new OperationCanceledException();
        if (result.ExitCode == ToolResult.InputError)
            throw new BuildFailure(inputErrorCode, $"CalderaModel '{settings.ItemSpec}': caldera {verb} rejected the input: {result.ErrorText}");
        throw new BuildFailure(BuildDiagnostic.ToolFailed,
            $"CalderaModel '{settings.ItemSpec}': caldera {verb} failed (exit code {result.ExitCode}): {result.ErrorText}; this is a fault in Caldera, not in the project: report it with this build log, and until then try another Method or Preset");
    }
}
