using Microsoft.Build.Utilities;

namespace Caldera.Build.Tasks;

internal static class TaskLogExtensions
{
    /// <summary>Logs a coded error or warning at <paramref name="file"/> (the project that declares the item), so IDEs link to it.</summary>
    public static void Report(this TaskLoggingHelper log, BuildDiagnostic diagnostic, string? file = null)
    {
        if (diagnostic.IsWarning)
            log.LogWarning(null, diagnostic.Code, null, file, 0, 0, 0, 0, "{0}", diagnostic.Message);
        else
            log.LogError(null, diagnostic.Code, null, file, 0, 0, 0, 0, "{0}", diagnostic.Message);
    }
}
