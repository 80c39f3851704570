using Caldera.Build.Tasks.Models;
using Caldera.Build.Tasks.Tool;
using Caldera.Common;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Caldera.Build.Tasks;

/// <summary>
/// For each resolved <c>&lt;CalderaModel&gt;</c>: <c>caldera compress</c> (or a copy, for an input that is
/// already a .cald) into <c>&lt;Name&gt;.cald</c>, then <c>caldera describe</c> into <c>&lt;Name&gt;.model.json</c>,
/// the source generator's input. With <c>Distill="true"</c> the compression goes to <c>&lt;Name&gt;.base.cald</c>,
/// <c>caldera finetune --teacher</c> trains an adapter on it and <c>caldera adapter merge</c> folds that into
/// <c>&lt;Name&gt;.cald</c>, so the app embeds one model. Both outputs are written under a temporary name and renamed into place. The
/// target around this task is skipped when its outputs are newer than the inputs and the parameter stamp.
/// </summary>
/// <remarks>
/// The tool's exit code decides the error: 2 is bad input the user can fix (its message already names the file
/// and the fix, and is relayed under a CALD code), 1 an internal failure. Cancelling (Ctrl+C in the build) kills
/// the tool's process tree; a compression killed that way resumes from its finished layers on the next build, a
/// distillation from its last checkpoint.
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
            Log.LogMessage(MessageImportance.High, "Caldera: cancelled; the next build resumes a compression from its finished layers, a distillation from its last checkpoint");
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
        else if (settings.Distill is { } distill)
        {
            string basePath = Path.ChangeExtension(caldPath, ".base.cald");
            string compressionKey = settings.CompressionKey(CalderaTool.Version(ToolAssembly));
            if (IntermediateOutput.IsCurrent(basePath, compressionKey, [.. settings.InputFiles(), ToolAssembly]))
                Log.LogMessage(MessageImportance.High, "Caldera: {0} was compressed with these settings already; reusing {1}", settings.ItemSpec, basePath);
            else
            {
                IntermediateOutput.Forget(basePath);
                Compress(tool, settings, basePath);
                IntermediateOutput.Record(basePath, compressionKey);
            }
            Distill(tool, settings, distill, basePath, caldPath);
        }
        else Compress(tool, settings, caldPath);

        string storage = ModelStorage.Resolve(settings.Storage, new FileInfo(caldPath).Length, threshold, PublishesVariant);
        string temporaryDescription = AtomicFile.TemporaryFor(descriptionPath);
        var described = tool.Run(settings.DescribeArguments(caldPath, storage, temporaryDescription), _cancellation.Token);
        Check(described, "describe", BuildDiagnostic.DescribeRejected, settings);
        AtomicFile.Commit(temporaryDescription, descriptionPath);
    }

    private void Compress(CalderaTool tool, ModelSettings settings, string caldPath)
    {
        Log.LogMessage(MessageImportance.High, "Caldera: compressing {0} ({1}, rank {2}, Q {3}-bit, factors {4}-bit) -> {5}",
            settings.ItemSpec, settings.Method, settings.Rank, settings.QBits, settings.LRBits, caldPath);
        // A stable temporary name: its <name>.parts/ layer cache lets a cancelled compression resume.
        string temporary = AtomicFile.TemporaryFor(caldPath);
        var result = tool.Run(settings.CompressArguments(temporary), _cancellation.Token);
        Check(result, "compress", BuildDiagnostic.CompressRejected, settings);
        AtomicFile.Commit(temporary, caldPath);
    }

    /// <summary>
    /// <c>caldera finetune --teacher</c> on the undistilled <paramref name="basePath"/>, writing <c>&lt;Name&gt;.calda</c>
    /// (kept for <c>caldera adapter inspect</c>), then <c>caldera adapter merge</c> into <paramref name="caldPath"/>.
    /// </summary>
    private void Distill(CalderaTool tool, ModelSettings settings, DistillSettings distill, string basePath, string caldPath)
    {
        string adapterPath = Path.ChangeExtension(caldPath, ".calda");
        string temporaryAdapter = AtomicFile.TemporaryFor(adapterPath);
        var arguments = distill.FineTuneArguments(basePath, settings.InputPath, settings.CalibrationPath!, temporaryAdapter);
        // The tool saves <adapter>.checkpoint during a run and goes on from it (--resume): a build cancelled while
        // distilling resumes there, but only from a checkpoint of this very run, on this very base file.
        string checkpoint = temporaryAdapter + ".checkpoint";
        var baseFile = new FileInfo(basePath);
        string runKey = string.Join("\n", arguments) + $"\nbase {baseFile.Length} bytes, written {baseFile.LastWriteTimeUtc.Ticks}\n";
        if (!IntermediateOutput.IsCurrent(checkpoint, runKey, [basePath, .. settings.InputFiles()])) IntermediateOutput.Forget(checkpoint);
        IntermediateOutput.Record(checkpoint, runKey);

        Log.LogMessage(MessageImportance.High, "Caldera: distilling {0} toward {1} on {2} ({3}) -> {4}",
            basePath, settings.ItemSpec, settings.CalibrationPath, distill.Summary, adapterPath);
        var trained = tool.Run(arguments, _cancellation.Token);
        Check(trained, "finetune", BuildDiagnostic.DistillRejected, settings);
        AtomicFile.Commit(temporaryAdapter, adapterPath);
        IntermediateOutput.Forget(checkpoint);

        string temporary = AtomicFile.TemporaryFor(caldPath);
        var merged = tool.Run(DistillSettings.MergeArguments(basePath, adapterPath, temporary), _cancellation.Token);
        Check(merged, "adapter merge", BuildDiagnostic.DistillRejected, settings);
        AtomicFile.Commit(temporary, caldPath);
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
