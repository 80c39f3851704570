using System.Globalization;
using System.Net;
using System.Text;
using Caldera.Cli.Progress;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;

namespace Caldera.Cli.Report;

/// <summary>
/// One self-contained HTML page about a compressed model: its settings, the error of every matrix by layer and kind,
/// the bits per weight split into Q, L, R and the rest, and each matrix's singular-value spectrum of W and of W − Q.
/// Plots are inline SVG; the page loads nothing and runs no script.
/// </summary>
internal static class CompressionReport
{
    public static string Render(CaldFile file)
    {
        var content = file.Content;
        var matrices = ReportPlots.ByLayer(content.Matrices);
        var kinds = CompressionSummary.Kinds.Select(k => k.Short).Where(k => matrices.Any(m => m.Kind == k)).ToList();
        int layers = matrices.Count == 0 ? 0 : matrices.Max(m => m.Layer) + 1;
        var s = content.Settings;
        var c = content.Config;
        var html = new StringBuilder();
        html.Append($$"""
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>Caldera report: {{E(Path.GetFileName(file.Path))}}</title>
            <style>
            body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
            h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
            table { border-collapse: collapse; font-size: 0.85em; } td, th { padding: 2px 8px; text-align: right; } th { border-bottom: 1px solid #999; }
            td:first-child, th:first-child { text-align: left; }
            dl { display: grid; grid-template-columns: max-content auto; gap: 2px 1em; } dt { font-weight: 600; }
            .plot svg { display: block; }
            .spectra { display: flex; flex-wrap: wrap; gap: 8px; }
            </style>
            </head>
            <body>
            <h1>Caldera report: {{E(Path.GetFileName(file.Path))}}</h1>
            <dl>
            <dt>architecture</dt><dd>{{F($"{c.LayerCount} layers, dim {c.Dim}, hidden {c.HiddenDim}, {c.HeadCount} heads ({c.KvHeadCount} KV), vocabulary {c.VocabSize}, context {c.ContextLength}")}}</dd>
            <dt>compression</dt><dd>{{E(F($"{s.Method}, rank {s.Rank}, Q {s.QBits}-bit, factors {s.FactorBits}-bit, preset {s.Preset}"))}}</dd>
            <dt>calibration</dt><dd>{{E(F($"{s.Calibration} ({s.CalibrationSamples} × {s.CalibrationSequenceLength} tokens)"))}}</dd>
            <dt>bits per weight</dt><dd>{{F($"{file.Bits}")}}</dd>
            <dt>mean relative error</dt><dd>{{F($"{content.Matrices.Average(m => m.RelativeError):F4} over {content.Matrices.Count} matrices")}}</dd>
            <dt>made by</dt><dd>caldera {{E(content.ToolVersion)}}</dd>
            </dl>

            """);
        Section(html, "Error by layer and matrix kind", ReportPlots.ErrorByLayer(matrices, kinds, layers));
        Section(html, "Bits per weight", ReportPlots.BitsByKind([.. kinds.Select(k => (k, MatrixBits.Mean(matrices.Where(m => m.Kind == k).Select(m => m.Matrix))))]));

        html.Append("<h2>Singular values of W and of W − Q</h2>\n");
        if (matrices.Any(m => m.Matrix.Spectrum is null))
            html.Append("<p>This file was written without spectra; compress it again with this caldera to see them.</p>\n");
        else
        {
            html.Append("<p>What the quantised part Q leaves, W − Q, is what L·R approximates; a spectrum that decays fast is one a low rank captures.</p>\n");
            for (int layer = 0; layer < layers; layer++)
            {
                html.Append(F($"<h3>layer {layer + 1}</h3>\n<div class=\"spectra\">\n"));
                foreach (var (_, kind, m) in matrices.Where(m => m.Layer == layer).OrderBy(m => kinds.IndexOf(m.Kind)))
                    html.Append("<div class=\"plot\">").Append(ReportPlots.Spectrum(F($"layer {layer + 1} {kind}"), m.Spectrum!)).Append("</div>\n");
                html.Append("</div>\n");
            }
        }
        MatrixTable(html, matrices);
        html.Append("</body>\n</html>\n");
        return html.ToString();
    }

    private static void Section(StringBuilder html, string title, string svg) =>
        html.Append("<h2>").Append(E(title)).Append("</h2>\n<div class=\"plot\">").Append(svg).Append("</div>\n");

    private static void MatrixTable(StringBuilder html, IReadOnlyList<(int Layer, string Kind, CompressedLinearData Matrix)> matrices)
    {
        html.Append("<h2>Every matrix</h2>\n<table>\n<tr><th>matrix</th><th>shape</th><th>rank</th><th>relative error</th><th>bpw</th><th>Q</th><th>L</th><th>R</th><th>rest</th></tr>\n");
        foreach (var (_, _, m) in matrices)
        {
            var b = MatrixBits.Of(m);
            html.Append(F($"<tr><td>{E(m.Name)}</td><td>{m.Rows}×{m.Columns}</td><td>{m.Rank}</td><td>{m.RelativeError:F4}</td><td>{b.Total:F3}</td><td>{b.Q:F3}</td><td>{b.L:F3}</td><td>{b.R:F3}</td><td>{b.Rest:F3}</td></tr>\n"));
        }
        html.Append("</table>\n");
    }

    private static string E(string text) => WebUtility.HtmlEncode(text);

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
