using Caldera.Build.Tasks.Models;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Caldera.Build.Tasks;

/// <summary>
/// Splits the compiled models into embedded resources and executable trailers. Runs on every build, also when
/// the compile target was skipped, so it decides from the .cald on disk, with the rule <see cref="CompileCalderaModels"/>
/// used for the manifest's <c>storage</c>.
/// </summary>
public sealed class SelectCalderaStorage : Microsoft.Build.Utilities.Task
{
    /// <summary>Items from <see cref="ResolveCalderaModels"/>.</summary>
    [Required] public ITaskItem[] Models { get; set; } = [];

    public string EmbedThreshold { get; set; } = "";

    /// <summary>True when a NativeAOT publish also carries the x86-64-v4 executable: <c>auto</c> storage is then the trailer.</summary>
    public bool PublishesVariant { get; set; }

    /// <summary>.cald files to embed; metadata <c>LogicalName</c> is the resource name.</summary>
    [Output] public ITaskItem[] ResourceModels { get; private set; } = [];

    /// <summary>.cald files to append to the published executable; metadata <c>Name</c> is the trailer entry's name.</summary>
    [Output] public ITaskItem[] TrailerModels { get; private set; } = [];

    public override bool Execute()
    {
        try
        {
            long threshold = ModelStorage.ParseThreshold(EmbedThreshold);
            var resources = new List<ITaskItem>();
            var trailers = new List<ITaskItem>();
            foreach (var model in Models)
            {
                string cald = model.GetMetadata("CaldPath");
                // Only a design-time build, which never compresses, gets here before the first real build.
                if (!File.Exists(cald)) continue;
                long length = new FileInfo(cald).Length;
                string requested = model.GetMetadata("Storage");
                var output = new TaskItem(cald);
                output.SetMetadata("Name", model.GetMetadata("Name"));
                if (ModelStorage.Resolve(requested, length, threshold, PublishesVariant) == ModelStorage.Trailer)
                {
                    trailers.Add(output);
                    continue;
                }
                if (length > threshold)
                    Log.Report(new BuildDiagnostic(BuildDiagnostic.ResourceAboveThreshold,
                        $"CalderaModel '{model.GetMetadata("OriginalItemSpec")}': the compressed model is {length} bytes, above $(CalderaEmbedThreshold) ({threshold}), and Storage=\"resource\" embeds it in the assembly anyway; set Storage=\"auto\" or \"trailer\" to append it to the published executable instead"),
                        model.GetMetadata("ProjectFile"));
                output.SetMetadata("LogicalName", model.GetMetadata("ResourceName"));
                resources.Add(output);
            }
            ResourceModels = [.. resources];
            TrailerModels = [.. trailers];
        }
        catch (BuildFailure failure)
        {
            Log.Report(failure.Diagnostic);
        }
        return !Log.HasLoggedErrors;
    }
}
