using Caldera.Cli.Progress;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Model;
using ScottPlot;

namespace Caldera.Cli.Report;

/// <summary>The report's figures, drawn by ScottPlot as SVG documents to be inlined in the HTML.</summary>
internal static class ReportPlots
{
    private static readonly IPalette Palette = new ScottPlot.Palettes.Category10();

    /// <summary>Grouped bars: for each layer, the activation-aware relative error of each matrix kind.</summary>
    public static string ErrorByLayer(IReadOnlyList<(int Layer, string Kind, CompressedLinearData Matrix)> matrices, IReadOnlyList<string> kinds, int layers)
    {
        var plot = new Plot();
        double width = 0.8 / kinds.Count;
        var bars = new List<Bar>();
        for (int k = 0; k < kinds.Count; k++)
        {
            foreach (var (layer, _, m) in matrices.Where(e => e.Kind == kinds[k]))
                bars.Add(new Bar { Position = layer + 1 - 0.4 + width * (k + 0.5), Value = m.RelativeError, Size = width, FillColor = Palette.GetColor(k), LineWidth = 0 });
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = kinds[k], FillColor = Palette.GetColor(k) });
        }
        plot.Add.Bars(bars);
        LayerTicks(plot, layers);
        // Room above the tallest bar for the legend.
        plot.Axes.SetLimitsY(0, 1.3 * bars.Max(b => b.Value));
        plot.Title("Activation-aware relative error by layer and matrix");
        plot.XLabel("layer");
        plot.YLabel("√(tr(ΔHΔᵀ) / tr(WHWᵀ))");
        plot.ShowLegend(Alignment.UpperRight, Orientation.Horizontal);
        return plot.GetSvgXml(960, 360);
    }

    /// <summary>Stacked bars: bits per weight of each matrix kind (weight-averaged over layers), split into Q, L, R and the rest.</summary>
    public static string BitsByKind(IReadOnlyList<(string Kind, MatrixBits Bits)> kinds)
    {
        var plot = new Plot();
        string[] parts = ["Q", "L", "R", "rest"];
        var bars = new List<Bar>();
        for (int i = 0; i < kinds.Count; i++)
        {
            var b = kinds[i].Bits;
            double[] values = [b.Q, b.L, b.R, b.Rest];
            double bottom = 0;
            for (int p = 0; p < parts.Length; p++)
            {
                bars.Add(new Bar { Position = i, ValueBase = bottom, Value = bottom + values[p], Size = 0.6, FillColor = Palette.GetColor(p), LineWidth = 0 });
                bottom += values[p];
            }
        }
        for (int p = 0; p < parts.Length; p++) plot.Legend.ManualItems.Add(new LegendItem { LabelText = parts[p], FillColor = Palette.GetColor(p) });
        plot.Add.Bars(bars);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            [.. Enumerable.Range(0, kinds.Count).Select(i => (double)i)], [.. kinds.Select(k => k.Kind)]);
        plot.Axes.SetLimitsY(0, 1.25 * bars.Max(b => b.Value));
        plot.Title("Bits per weight by matrix kind: Q, L, R and the rest");
        plot.YLabel("bits per weight");
        plot.ShowLegend(Alignment.UpperRight, Orientation.Horizontal);
        return plot.GetSvgXml(960, 360);
    }

    /// <summary>σ_k of W and of W − Q against k, each divided by σ₁(W) so every matrix reads on the same scale.</summary>
    public static string Spectrum(string title, MatrixSpectrum spectrum)
    {
        var plot = new Plot();
        double top = spectrum.Weight[0] > 0 ? spectrum.Weight[0] : 1;
        // Solid lines with distinct markers: Skia's SVG canvas cannot write a dash pattern (it says so on stdout).
        Line(spectrum.Weight, "W", 0, MarkerShape.FilledCircle);
        Line(spectrum.Residual, "W − Q", 3, MarkerShape.FilledSquare);
        plot.Axes.SetLimitsY(0, 1.05);
        plot.Title(title, size: 13);
        plot.XLabel("k", size: 11);
        plot.YLabel("σₖ / σ₁(W)", size: 11);
        plot.ShowLegend(Alignment.UpperRight);
        return plot.GetSvgXml(300, 220);

        void Line(float[] values, string label, int color, MarkerShape marker)
        {
            var line = plot.Add.Scatter(Enumerable.Range(1, values.Length).Select(k => (double)k).ToArray(), values.Select(v => v / top).ToArray(), Palette.GetColor(color));
            line.LegendText = label;
            line.MarkerShape = marker;
            line.MarkerSize = 3;
            line.LineWidth = 1.5f;
        }
    }

    private static void LayerTicks(Plot plot, int layers)
    {
        int step = Math.Max(1, layers / 16);
        var positions = Enumerable.Range(1, layers).Where(l => l == 1 || l % step == 0).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            [.. positions.Select(p => (double)p)], [.. positions.Select(p => p.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
    }

    /// <summary>(block, short kind) of every block matrix (a compressed classifier is no block's), in the summary table's kind order.</summary>
    public static List<(int Layer, string Kind, CompressedLinearData Matrix)> ByLayer(IEnumerable<CompressedLinearData> matrices) =>
        [.. matrices.Where(m => TensorNames.IsBlockMatrix(m.Name)).Select(m => (Key: CompressionSummary.Parse(m.Name), Matrix: m)).Select(e => (e.Key.Layer, e.Key.Kind, e.Matrix))];
}
