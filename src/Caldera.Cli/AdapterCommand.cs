using System.CommandLine;
using System.Globalization;
using Caldera.Compiler.Adapters;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Training.Adapters;

namespace Caldera.Cli;

/// <summary>
/// <c>caldera adapter inspect</c>: what an adapter file holds and how it was trained, and whether it belongs to a model;
/// <c>caldera adapter merge</c>: a new .cald with the adapter's ranks folded into the factors, quantized as they are stored,
/// and its trained norm gains in place of the base's.
/// </summary>
internal static class AdapterCommand
{
    private static readonly Argument<string> Adapter = new("adapter") { Description = "The adapter file (.calda)." };
    private static readonly Option<string?> Model = CliOptions.Text("--model", "Also check that the adapter was trained on this .cald.", "model");
    private static readonly Argument<string> BaseModel = new("model") { Description = "The .cald the adapter was trained on." };
    private static readonly Argument<string> MergedAdapter = new("adapter") { Description = "The adapter file (.calda) to fold in." };
    private static readonly Option<string?> Output = CliOptions.Text("--output", "The merged .cald to write (required).", "file", "-o");

    public static Command Create(CliContext cli)
    {
        var inspect = new Command("inspect", "Show an adapter's base model, matrices, training settings, token counts and losses.") { Adapter, Model };
        inspect.SetAction(parsed => Inspect(parsed, cli));
        var merge = new Command("merge", "Write a new .cald with the adapter's trained ranks folded into the factors (quantized as they are stored).")
        {
            BaseModel, MergedAdapter, Output,
        };
        merge.SetAction(parsed => Merge(parsed, cli));
        return new Command("adapter", "Work with fine-tuned adapters (.calda files written by caldera finetune).") { inspect, merge };
    }

    private static int Merge(ParseResult parsed, CliContext cli)
    {
        string modelPath = parsed.GetValue(BaseModel)!, adapterPath = parsed.GetValue(MergedAdapter)!;
        string output = parsed.GetValue(Output) ?? throw new CliUsageException("adapter merge: -o <merged.cald> is required");
        if (Path.GetFullPath(output) == Path.GetFullPath(modelPath))
            throw new CliUsageException("adapter merge: -o must differ from the model it merges into; the adapter is tied to that file's checksum");
        using var model = CaldFile.Open(modelPath);
        var adapter = AdapterFile.Read(adapterPath);
        AdapterFile.CheckBase(adapterPath, adapter, model.Checksum, modelPath);
        AdapterFile.CheckGains(adapterPath, adapter, model.Content.Config);
        var writer = cli.Format.Writer ?? throw new CliUsageException("adapter merge: this build has no compressed-model writer");
        writer.Write(AdapterMerge.Merge(model.Content, adapter), output);
        cli.Out.WriteLine($"wrote {output}: {adapter.Matrices.Count} matrices with rank {adapter.Rank} of their factors{(adapter.Gains.Count > 0 ? $" and {adapter.Gains.Count} norm gains" : "")} from {adapterPath}");
        return 0;
    }

    private static int Inspect(ParseResult parsed, CliContext cli)
    {
        string path = parsed.GetValue(Adapter)!;
        var adapter = AdapterFile.Read(path);
        if (parsed.GetValue(Model) is { } modelPath)
        {
            using var model = CaldFile.Open(modelPath);
            AdapterFile.CheckBase(path, adapter, model.Checksum, modelPath);
            AdapterFile.CheckGains(path, adapter, model.Content.Config);
        }
        var o = cli.Out;
        var c = CultureInfo.InvariantCulture;
        var t = adapter.Training;
        long parameters = adapter.Matrices.Sum(m => (long)m.Rank * (m.Rows + m.Columns));
        o.WriteLine($"adapter            {path}");
        o.WriteLine($"base model         {adapter.BaseName} (checksum {adapter.BaseChecksum:x16})");
        o.WriteLine(string.Create(c, $"matrices           {adapter.Matrices.Count} × rank {adapter.Rank}, {parameters} fp32 parameters"));
        if (adapter.Gains.Count > 0)
            o.WriteLine(string.Create(c, $"norm gains         {adapter.Gains.Count} ({adapter.Gains[0].Name} … {adapter.Gains[^1].Name}), {adapter.Gains.Sum(g => (long)g.Values.Length)} fp32 parameters"));
        o.WriteLine($"objective          {t.Objective}{(t.Teacher is null ? "" : $" (teacher {t.Teacher})")}{(t.QuantizationAware ? ", quantization-aware" : "")}");
        o.WriteLine(string.Create(c, $"settings           lr {t.LearningRate:G3}, {t.Steps} steps ({t.WarmupSteps} warmup), seq-len {t.SequenceLength}, accumulation {t.Accumulation}, weight decay {t.WeightDecay:G3}, clip {t.ClipNorm:G3}, seed {t.Seed}"));
        o.WriteLine(string.Create(c, $"data               {t.DataTokens} tokens (sha256 of ids {t.DataSha256}), {t.ValidationTokens} held out ({t.ValidationFraction:G3})"));
        o.WriteLine(string.Create(c, $"trained tokens     {t.TrainedTokens}"));
        if (t.Losses.Count > 0) o.WriteLine(string.Create(c, $"loss               {t.Losses[0]:F4} → {t.Losses[^1]:F4}"));
        foreach (var (step, loss) in t.ValidationLosses) o.WriteLine(string.Create(c, $"validation         step {step}: {loss:F4}"));
        o.WriteLine($"kept step          {t.KeptStep}");
        return 0;
    }
}
