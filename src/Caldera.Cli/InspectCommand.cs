using System.CommandLine;
using System.Globalization;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Model;

namespace Caldera.Cli;

/// <summary>
/// <c>caldera inspect &lt;model&gt;</c>: prints the source format, every architecture setting, each tensor
/// with its shape and stored type (for a .cald model: its code kind, rank, bits per weight and error), the
/// parameter count or compression settings, and the embedded vocabulary or tokenizer, if any.
/// </summary>
internal static class InspectCommand
{
    private static readonly Argument<string> Model = CliOptions.Model("The model: a Hugging Face directory, a .gguf file, a llama2.c .bin or a .cald model.");

    public static Command Create(CliContext cli)
    {
        var command = new Command("inspect", "Print a model's format, architecture, every tensor with its shape and storage, and its vocabulary or tokenizer.") { Model };
        command.SetAction(parsed =>
        {
            using var model = LoadedModel.Open(parsed.GetValue(Model)!);
            if (model.Compressed is { } compressed) PrintCompressed(compressed, cli.Out);
            else Print(model.Checkpoint!, cli.Out);
            return 0;
        });
        return command;
    }

    private static void Print(ModelCheckpoint model, TextWriter o)
    {
        PrintArchitecture(model.SourcePath, model.Format, model.Config, o);
        PrintTensors(model.Config, model.Tensors.Values.Select(t => (t.Name, Shape: $"[{string.Join(", ", t.Shape)}]", Storage: t.Type.ToString())), o);
        o.WriteLine($"parameters:   {model.ParameterCount.ToString("N0", CultureInfo.InvariantCulture)}");
        o.WriteLine(model.Vocabulary is { } v
            ? $"vocabulary:   {v.Tokens.Length} tokens embedded (tokenizer model '{v.Model}', bos {v.BosId}, eos {v.EosId})"
            : "vocabulary:   none embedded");
    }

    /// <summary>A .cald model: the architecture, how it was compressed, its bits per weight and every tensor with its storage.</summary>
    private static void PrintCompressed(CaldFile file, TextWriter o)
    {
        var content = file.Content;
        PrintArchitecture(file.Path, $"cald (compressed, {file.Length.ToString("N0", CultureInfo.InvariantCulture)} bytes)", content.Config, o);
        var s = content.Settings;
        // A --bits budget gives each matrix its own rank (listed with the tensors below).
        int lowest = content.Matrices.Count == 0 ? s.Rank : content.Matrices.Min(m => m.Rank);
        string rank = lowest == s.Rank ? $"rank {s.Rank}" : $"ranks {lowest}–{s.Rank} by matrix";
        o.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"compression:  {s.Method}, {rank}, Q {s.QBits}-bit, factors {s.FactorBits}-bit, preset {s.Preset}, calibration {s.Calibration}"));
        o.WriteLine($"bits/weight:  {file.Bits}");
        o.WriteLine($"source:       sha256 {content.SourceSha256}, caldera {content.ToolVersion}");
        o.WriteLine($"tokenizer:    {(content.Tokenizer is { } t ? $"{t.Kind} ({t.Bytes.Length} bytes)" : "none embedded")}");
        var rows = content.DenseTensors.Select(d => (d.Name, Shape: $"[{string.Join(", ", d.Shape)}]", Storage: d.Type.ToString()))
            .Concat(content.Matrices.Select(m => (m.Name, Shape: $"[{m.Rows}, {m.Columns}]", Storage: string.Create(CultureInfo.InvariantCulture,
                $"{(m.QKind == QCodeKind.E8P ? "E8P" : $"uniform {m.QBits}-bit")} + rank {m.Rank} ({m.FactorBits}-bit), {m.BitsPerWeight:F3} bpw, rel. error {m.RelativeError:F4}"))));
        PrintTensors(content.Config, rows, o);
    }

    /// <summary>One line per tensor, in the architecture's order (embedding, block 0, block 1, …) rather than the file's or the alphabet's.</summary>
    private static void PrintTensors(LlamaConfig c, IEnumerable<(string Name, string Shape, string Storage)> tensors, TextWriter o)
    {
        var rank = TensorNames.Expected(c).Select((e, i) => (e.Name, i)).ToDictionary(e => e.Name, e => e.i);
        var rows = tensors.OrderBy(t => rank.GetValueOrDefault(t.Name, int.MaxValue)).ThenBy(t => t.Name, StringComparer.Ordinal).ToList();
        int nameWidth = rows.Max(r => r.Name.Length), shapeWidth = rows.Max(r => r.Shape.Length);
        o.WriteLine($"tensors:      {rows.Count}");
        foreach (var (name, shape, storage) in rows)
            o.WriteLine($"  {name.PadRight(nameWidth)}  {shape.PadRight(shapeWidth)}  {storage}");
    }

    private static void PrintArchitecture(string path, string format, LlamaConfig c, TextWriter o)
    {
        o.WriteLine($"model:        {path}");
        o.WriteLine($"format:       {format}");
        o.WriteLine("architecture: llama");
        Setting("dim", c.Dim);
        Setting("hidden_dim", c.HiddenDim);
        Setting("layers", c.LayerCount);
        Setting("heads", c.HeadCount);
        Setting("kv_heads", c.KvHeadCount);
        Setting("head_dim", c.HeadDim);
        Setting("vocab_size", c.VocabSize);
        Setting("context_length", c.ContextLength);
        Setting("norm_epsilon", c.NormEpsilon.ToString("R", CultureInfo.InvariantCulture));
        Setting("rope_theta", c.RopeTheta.ToString("R", CultureInfo.InvariantCulture));
        Setting("rope_pairing", c.RopePairing == RopePairing.Interleaved ? "interleaved (2i, 2i+1)" : "rotate-half (i, i+head_dim/2)");
        Setting("rope_scaling", c.RopeScaling is { } s
            ? string.Create(CultureInfo.InvariantCulture,
                $"llama3 (factor {s.Factor}, low_freq_factor {s.LowFrequencyFactor}, high_freq_factor {s.HighFrequencyFactor}, original context {s.OriginalContextLength})")
            : "none");
        if (c.RopeFrequencyFactors is { } factors)
            Setting("rope_freqs", string.Create(CultureInfo.InvariantCulture,
                $"{factors.Count} per-pair divisors, {factors.Values.ToArray().Min()} to {factors.Values.ToArray().Max()}"));
        Setting("tied_classifier", c.TiedClassifier ? "yes" : "no");
        void Setting(string name, object value) => o.WriteLine($"  {name,-16}{value}");
    }
}
