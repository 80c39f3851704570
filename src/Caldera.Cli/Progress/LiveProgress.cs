using System.Globalization;
using Caldera.Compiler.Pipeline;
using Spectre.Console;

namespace Caldera.Cli.Progress;

/// <summary>
/// A live display for a terminal: one bar over every block matrix, with the layer and matrix in progress, the
/// last and mean activation-aware error, the elapsed time and the compressor's ETA. Blocks taken from the cache
/// advance the bar at once; a rejected cache entry is printed above the bar.
/// </summary>
internal sealed class LiveProgress : IProgress<CompressionProgress>
{
    private readonly ProgressTask _task;
    private readonly int _matricesPerLayer;
    private readonly Action<string> _note;
    private double _errorSum;
    private int _errors;

    private LiveProgress(ProgressTask task, int matricesPerLayer, Action<string> note) =>
        (_task, _matricesPerLayer, _note) = (task, matricesPerLayer, note);

    /// <summary>Runs <paramref name="work"/> under a live display on <paramref name="console"/> of <paramref name="layers"/> × <paramref name="matricesPerLayer"/> steps.</summary>
    public static T Run<T>(IAnsiConsole console, int layers, int matricesPerLayer, Func<IProgress<CompressionProgress>, T> work) =>
        console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask("calibrating", maxValue: layers * matricesPerLayer);
                var result = work(new LiveProgress(task, matricesPerLayer, text => console.MarkupLine(Markup.Escape(text))));
                task.Description = "done";
                task.Value = task.MaxValue;
                context.Refresh();
                return result;
            });

    public void Report(CompressionProgress p)
    {
        string where = p.Where;
        switch (p.Event)
        {
            case CompressionEvent.MatrixCompressed:
                _errorSum += p.RelativeError;
                _errors++;
                _task.Increment(1);
                _task.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                    $"{where}  {p.Matrix,-4}  error {p.RelativeError:F4} (mean {_errorSum / _errors:F4})") +
                    (p.Remaining is { } left ? $"  eta {PlainProgress.Clock(left)}" : ""));
                break;
            case CompressionEvent.LayerFromCache:
                _task.Increment(_matricesPerLayer);
                _task.Description = Markup.Escape($"{where}  from cache");
                break;
            case CompressionEvent.CacheRejected:
                _note($"{where}  cache not used: {p.Note}");
                break;
        }
    }
}
