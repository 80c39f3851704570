using Caldera.Build.Tasks.Trailer;
using Caldera.Common;
using Microsoft.Build.Framework;

namespace Caldera.Build.Tasks;

/// <summary>
/// After publish: appends the models with <c>Storage="trailer"</c>, and the app's x86-64-v4 executable when one was
/// published, to the native executable, page-aligned, with a checksummed directory the runtime finds from the file's
/// last 32 bytes. Publishing again replaces the trailer.
/// </summary>
public sealed class AppendCalderaTrailer : Microsoft.Build.Utilities.Task
{
    [Required] public string Executable { get; set; } = "";

    /// <summary>.cald files; metadata <c>Name</c> is the entry's name in the directory (the generated class's name).</summary>
    public ITaskItem[] Models { get; set; } = [];

    /// <summary>The app published for x86-64-v4, which the executable runs in its place on CPUs with AVX-512; empty for none.</summary>
    public string X86_64V4Executable { get; set; } = "";

    public override bool Execute()
    {
        try
        {
            var contents = Models.Select(m => (m.GetMetadata("Name"), m.GetMetadata("FullPath"))).ToList();
            if (X86_64V4Executable.Length > 0) contents.Add((X86Variant.TrailerEntry, X86_64V4Executable));
            var entries = TrailerWriter.Append(Executable, contents);
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
