using System.Globalization;
using Caldera.Runtime.Model;

namespace Caldera.Cli;

/// <summary>
/// <c>caldera inspect &lt;model&gt;</c>: prints the source format, every architecture setting, each tensor
/// with its shape and stored type, the parameter count and the embedded vocabulary, if any.
/// </summary>
internal static class InspectCommand
{
    public static int Execute(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args is not [var path] || path.StartsWith('-'))
            throw new CliUsageException("'inspect' takes exactly one argument: the model path");
        using var model = ModelCheckpoint.Open(path);
        Print(model, stdout);
        return 0;
    }

    private static void Print(ModelCheckpoint model, TextWriter o)
    {
        var c = model.Config;
        o.WriteLine($"model:        {model.SourcePath}");
        o.WriteLine($"format:       {model.Format}");
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
        Setting("tied_classifier", c.TiedClassifier ? "yes" : "no");

        // In the architecture's order (embedding, block 0, block 1, …), rather than the file's or the alphabet's.
        var rank = TensorNames.Expected(c).Select((e, i) => (e.Name, i)).ToDictionary(e => e.Name, e => e.i);
        var rows = model.Tensors.Values
            .OrderBy(t => rank.GetValueOrDefault(t.Name, int.MaxValue)).ThenBy(t => t.Name, StringComparer.Ordinal)
            .Select(t => (t.Name, Shape: $"[{string.Join(", ", t.Shape)}]", t.Type)).ToList();
        int nameWidth = rows.Max(r => r.Name.Length), shapeWidth = rows.Max(r => r.Shape.Length);
        o.WriteLine($"tensors:      {rows.Count}");
        foreach (var (name, shape, type) in rows)
            o.WriteLine($"  {name.PadRight(nameWidth)}  {shape.PadRight(shapeWidth)}  {type}");
        o.WriteLine($"parameters:   {model.ParameterCount.ToString("N0", CultureInfo.InvariantCulture)}");
        o.WriteLine(model.Vocabulary is { } v
            ? $"vocabulary:   {v.Tokens.Length} tokens embedded (tokenizer model '{v.Model}', bos {v.BosId}, eos {v.EosId})"
            : "vocabulary:   none embedded");

        void Setting(string name, object value) => o.WriteLine($"  {name,-16}{value}");
    }
}
