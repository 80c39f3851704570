using System.Globalization;
using Caldera.Compiler.Pipeline;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Model;
using Spectre.Console;

namespace Caldera.Cli.Progress;

/// <summary>
/// The table printed after compress: per block the activation-aware relative error of each matrix kind and the
/// time the block took, then the bits per weight of each kind over all blocks.
/// </summary>
internal static class CompressionSummary
{
    /// <summary>The matrix kinds of a Llama block in the forward pass's order, by their short names.</summary>
    public static readonly (string Tensor, string Short)[] Kinds =
        [("attn_q", "q"), ("attn_k", "k"), ("attn_v", "v"), ("attn_output", "o"), ("ffn_gate", "gate"), ("ffn_up", "up"), ("ffn_down", "down")];

    /// <summary>(block, kind) of a canonical block matrix name such as "blk.3.ffn_down.weight".</summary>
    public static (int Layer, string Kind) Parse(string name)
    {
        string[] parts = name.Split('.');
        string kind = Kinds.FirstOrDefault(k => k.Tensor == parts[2]).Short ?? parts[2];
        return (int.Parse(parts[1], CultureInfo.InvariantCulture), kind);
    }

    public static Table Build(IReadOnlyList<CompressedLinearData> matrices, IReadOnlyList<TimeSpan?> layerTimes)
    {
        // Only the figures are kept: the matrices may be read from disk a block at a time, and holding them would hold them all.
        var byLayer = matrices.Where(m => TensorNames.IsBlockMatrix(m.Name))
            .Select(m => (Key: Parse(m.Name), Matrix: new Figures(m.RelativeError, m.BitsPerWeight, m.Rows, m.Columns))).ToList();
        var kinds = Kinds.Select(k => k.Short).Where(k => byLayer.Any(e => e.Key.Kind == k)).ToList();
        var table = new Table().Border(TableBorder.Simple).Title("relative error by layer and matrix; bits per weight (bpw) by matrix");
        table.AddColumn("layer");
        foreach (string kind in kinds) table.AddColumn(new TableColumn(kind).RightAligned().NoWrap());
        table.AddColumn(new TableColumn("time").RightAligned().NoWrap());
        int layers = byLayer.Max(e => e.Key.Layer) + 1;
        for (int layer = 0; layer < layers; layer++)
        {
            var cells = new List<string> { (layer + 1).ToString(CultureInfo.InvariantCulture) };
            foreach (string kind in kinds)
                cells.Add(byLayer.Where(e => e.Key == (layer, kind)).Select(e => F(e.Matrix.RelativeError, "F4")).FirstOrDefault() ?? "");
            cells.Add(layer < layerTimes.Count && layerTimes[layer] is { } t ? F(t.TotalSeconds, "F1") + " s" : "cached");
            table.AddRow(cells.ToArray());
        }
        table.AddEmptyRow();
        var bits = new List<string> { "bpw" };
        foreach (string kind in kinds)
        {
            var ofKind = byLayer.Where(e => e.Key.Kind == kind).Select(e => e.Matrix).ToList();
            double weights = ofKind.Sum(m => (double)m.Rows * m.Columns);
            bits.Add(F(ofKind.Sum(m => m.BitsPerWeight * m.Rows * m.Columns) / weights, "F3"));
        }
        bits.Add("");
        table.AddRow(bits.ToArray());
        // A compressed classifier is no block's: its own row, error and bits per weight in the first two columns.
        if (matrices.FirstOrDefault(m => m.Name == TensorNames.Output) is { } classifier)
            table.AddRow([$"output: {F(classifier.RelativeError, "F4")}, {F(classifier.BitsPerWeight, "F3")} bpw", .. Enumerable.Repeat("", kinds.Count + 1)]);
        return table;
    }

    private static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);

    private readonly record struct Figures(double RelativeError, double BitsPerWeight, int Rows, int Columns);
}

/// <summary>The time each block took to compress (null for a block taken from the cache), kept from the reports passed through <see cref="Around"/>.</summary>
internal sealed class LayerTimes
{
    private readonly List<TimeSpan?> _layers = [];
    private TimeSpan _last;

    public IReadOnlyList<TimeSpan?> Layers => _layers;

    public IProgress<CompressionProgress> Around(IProgress<CompressionProgress> inner) => new Recorder(this, inner);

    private void Record(CompressionProgress p)
    {
        if (p.Event is not (CompressionEvent.LayerCompressed or CompressionEvent.LayerFromCache)) return;
        while (_layers.Count <= p.Layer) _layers.Add(null);
        if (p.Event == CompressionEvent.LayerCompressed) _layers[p.Layer] = p.Elapsed - _last;
        _last = p.Elapsed;
    }

    private sealed class Recorder(LayerTimes times, IProgress<CompressionProgress> inner) : IProgress<CompressionProgress>
    {
        public void Report(CompressionProgress p)
        {
            times.Record(p);
            inner.Report(p);
        }
    }
}
