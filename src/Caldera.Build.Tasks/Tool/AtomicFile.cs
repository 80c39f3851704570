namespace Caldera.Build.Tasks.Tool;

/// <summary>
/// Outputs appear whole or not at all: each is written beside its destination under a temporary name and then
/// renamed over it (a rename within one folder is atomic), so a build stopped halfway never leaves a truncated
/// .cald or manifest that a later incremental build would take as up to date.
/// </summary>
internal static class AtomicFile
{
    /// <summary>The temporary name used while <paramref name="path"/> is being written.</summary>
    public static string TemporaryFor(string path) => path + ".partial";

    public static void Commit(string temporaryPath, string path) => File.Move(temporaryPath, path, overwrite: true);

    public static void Copy(string source, string destination)
    {
        string temporary = TemporaryFor(destination);
        File.Copy(source, temporary, overwrite: true);
        Commit(temporary, destination);
    }
}
