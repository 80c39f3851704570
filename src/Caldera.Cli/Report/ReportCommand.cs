using System.CommandLine;
using System.Text;
using Caldera.Runtime.Formats;

namespace Caldera.Cli.Report;

/// <summary><c>caldera report &lt;model.cald&gt; -o report.html</c>: writes <see cref="CompressionReport"/> for a compressed model.</summary>
internal static class ReportCommand
{
    private static readonly Argument<string> Model = CliOptions.Model("The compressed model (.cald) to report on.");
    private static readonly Option<string?> Output = CliOptions.Text("--output", "The HTML file to write (required).", "report.html", "-o");

    public static Command Create(CliContext cli)
    {
        var command = new Command("report",
            "Write one self-contained HTML page about a .cald model: error by layer and matrix, bits per weight split into Q, L, R and the rest, " +
            "and each matrix's singular values of W and of W − Q.")
        {
            Model, Output,
        };
        command.SetAction(parsed =>
        {
            string output = parsed.GetValue(Output) ?? throw new CliUsageException("report: -o <report.html> is required");
            using var file = CaldFile.Open(parsed.GetValue(Model)!);
            DescribeCommand.WriteAtomically(output, Encoding.UTF8.GetBytes(CompressionReport.Render(file)), "the report");
            cli.Out.WriteLine($"wrote {output}: {file.Content.Matrices.Count} matrices of {file.Path}");
            return 0;
        });
        return command;
    }
}
