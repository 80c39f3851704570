using System.Globalization;
using Caldera.Compiler.Pipeline;

namespace Caldera.Cli.Progress;

/// <summary>
/// One line per step (block i/N, matrix, error, elapsed, ETA), for a log, a pipe or MSBuild: Caldera.Build.Tasks'
/// CalderaTool shows a line with "  done  " or ending in " done" at normal importance and the rest at low.
/// </summary>
internal sealed class PlainProgress(TextWriter writer) : IProgress<CompressionProgress>
{
    public void Report(CompressionProgress p)
    {
        string where = p.Where;
        string time = $"elapsed {Clock(p.Elapsed)}" + (p.Remaining is { } left ? $"  eta {Clock(left)}" : "");
        writer.WriteLine(p.Event switch
        {
            CompressionEvent.MatrixCompressed => string.Create(CultureInfo.InvariantCulture, $"{where}  {p.Matrix,-4}  error {p.RelativeError:F4}  {time}"),
            CompressionEvent.LayerCompressed => $"{where}  done  {time}",
            CompressionEvent.LayerFromCache => $"{where}  from cache",
            _ => $"{where}  cache not used: {p.Note}",
        });
        writer.Flush();
    }

    public static string Clock(TimeSpan t) =>
        t.TotalHours >= 1 ? t.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : t.ToString(@"mm\:ss", CultureInfo.InvariantCulture);
}
