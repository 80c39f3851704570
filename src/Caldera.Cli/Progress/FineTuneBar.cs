using Caldera.Runtime.Training.FineTuning;
using Spectre.Console;

namespace Caldera.Cli.Progress;

/// <summary>Fine-tuning progress on a terminal: one bar over the steps, described by the last loss, tokens/s and ETA.</summary>
internal sealed class FineTuneBar(ProgressTask task) : IProgress<FineTuneProgress>
{
    public static T Run<T>(IAnsiConsole console, Func<IProgress<FineTuneProgress>, T> work) =>
        console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask("fine-tuning", maxValue: 1);
                var result = work(new FineTuneBar(task));
                task.Value = task.MaxValue;
                context.Refresh();
                return result;
            });

    public void Report(FineTuneProgress p)
    {
        task.MaxValue = p.TotalSteps;
        task.Value = p.Step;
        task.Description = Markup.Escape(FineTuneLines.Describe(p));
    }
}
