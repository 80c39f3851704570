using Caldera.Build.Tasks.Trailer;
using Microsoft.Build.Framework;

namespace Caldera.Build.Tasks;

/// <summary>
/// After publish: appends the models with <c>Storage="trailer"</c> to the native executable, page-aligned, with
/// a checksummed directory the runtime finds from the file's last 32 bytes. Publishing again replaces the trailer.
/// </summary>
public sealed class AppendCalderaTrailer : Microsoft.Build.Utilities.Task
{
    [Required] public string Executable { get; set; } = "";

    /// <summary>.cald files; metadata <c>Name</c> is the entry's name in the directory (the generated class's name).</summary>
    [Required] public ITaskItem[] Models { get; set; } = [];

    public override bool Execute()
    {
        try
        {
            var entries = TrailerWriter.Append(Executable, [.. Models.Select(m => (m.GetMetadata("Name"), m.GetMetadata("FullPath")))]);
            foreach (var entry in entries)
                Log.LogMessage(MessageImportance.High, "Caldera: appended {0} ({1} bytes at {2}) to {3}", entry.Name, entry.Length, entry.Offset, Executable);
        }
        catch (BuildFailure failure)
        {
            Log.Report(failure.Diagnostic);
        }
        return !Log.HasLoggedErrors;
    }
}
