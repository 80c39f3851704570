using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Caldera.Compiler.Evaluation;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;

namespace Caldera.Cli;

/// <summary>
/// <c>caldera eval</c>: perplexity of a model on a text, and against a reference model the mean KL divergence
/// and top-1 agreement, with llama.cpp's definitions (<see cref="QualityEvaluator"/>), plus bits per weight.
/// </summary>
internal static class EvalCommand
{
    private static readonly Argument<string> Model = CliOptions.Model("The model to score: a checkpoint or a .cald model.");
    private static readonly Option<string?> Text = CliOptions.Text("--text", "UTF-8 text to score (required).");
    private static readonly Option<string?> Reference = CliOptions.Text("--reference", "A model to compare with: adds its perplexity, the mean KL divergence and top-1 agreement.", "model");
    private static readonly Option<int> Context = CliOptions.Int("--ctx", "Tokens per scored chunk.", 256, min: 4);
    private static readonly Option<string?> Tokenizer = CliOptions.Text("--tokenizer", "tokenizer.model or tokenizer.json; default: the model's own.");
    private static readonly Option<int?> Threads = CliOptions.OptionalInt("--threads", "Worker threads; default: one per processor.", min: 1);
    private static readonly Option<bool> Int8 = CliOptions.Flag("--int8", "Score int8 arithmetic (what an app runs by default) instead of float arithmetic.");
    private static readonly Option<bool> Int8Classifier = CliOptions.Flag("--int8-classifier", "Score with the int8 classifier.");
    private static readonly Option<bool> Int6Classifier = CliOptions.Flag("--int6-classifier", "Score with the 6-bit classifier.");
    private static readonly Option<bool> Json = CliOptions.Flag("--json", "Print the figures as JSON.");
    private static readonly Option<string?> Adapter = CliOptions.Text("--adapter", "Score a .cald with this fine-tuned adapter (caldera finetune); its ranks count at 32 bits in the bits per weight.");

    public static Command Create(CliContext cli)
    {
        var command = new Command("eval", "Perplexity of a model on a text and, against a reference model, mean KL divergence and top-1 agreement (llama.cpp's definitions), plus bits per weight.")
        {
            Model, Text, Reference, Context, Tokenizer, Threads, Int8, Int8Classifier, Int6Classifier, Json, Adapter,
        };
        command.SetAction(parsed => Execute(parsed, cli));
        return command;
    }

    private static int Execute(ParseResult parsed, CliContext cli)
    {
        var (stdout, format, cancellation) = (cli.Out, cli.Format, cli.Cancellation);
        string modelPath = parsed.GetValue(Model)!;
        string textPath = parsed.GetValue(Text) ?? throw new CliUsageException("eval: --text <file> is required");
        int ctx = parsed.GetValue(Context);
        int threads = parsed.GetValue(Threads) ?? Environment.ProcessorCount;
        string? tokenizerPath = parsed.GetValue(Tokenizer);
        string? referencePath = parsed.GetValue(Reference);
        if (!File.Exists(textPath)) throw new ModelFormatException(textPath, "text file not found; pass an existing UTF-8 file to --text");
        using var model = parsed.GetValue(Adapter) is { } adapterPath ? OpenAdapted(modelPath, adapterPath, tokenizerPath) : Open(modelPath, tokenizerPath, format);
        using var reference = referencePath is null ? null : Open(referencePath, tokenizerPath, format);
        var tokenizer = model.Tokenizer ?? reference?.Tokenizer
            ?? throw new ModelFormatException(modelPath, "no tokenizer found; pass --tokenizer <file>");
        foreach (var m in new[] { model, reference })
            if (m != null && ctx > m.Config.ContextLength)
                throw new CliUsageException($"eval: --ctx {ctx} exceeds the context of {m.Path} ({m.Config.ContextLength})");
        int[] tokens = tokenizer.Encode(File.ReadAllText(textPath), addBos: true);
        if (tokens.Length < ctx)
            throw new ModelFormatException(textPath, $"gives {tokens.Length} tokens, fewer than one chunk of --ctx {ctx}; use a longer text or a smaller --ctx");
        if (parsed.GetValue(Int8Classifier) && parsed.GetValue(Int6Classifier))
            throw new CliUsageException("eval: --int8-classifier and --int6-classifier exclude each other; pass one");
        var classifier = parsed.GetValue(Int6Classifier) ? ClassifierPrecision.Int6
            : parsed.GetValue(Int8Classifier) ? ClassifierPrecision.Int8 : ClassifierPrecision.Stored;
        var metrics = QualityEvaluator.Evaluate(model.Open, reference?.Open, tokens, ctx, tokenizer.BosId, threads, cancellation,
            int8Decode: parsed.GetValue(Int8), classifier: classifier);
        if (parsed.GetValue(Json)) WriteJson(stdout, modelPath, referencePath, metrics, model.Bits);
        else WriteText(stdout, modelPath, referencePath, metrics, model.Bits);
        return 0;
    }

    /// <summary>A compressed model through <paramref name="format"/>'s reader, otherwise a checkpoint.</summary>
    private static EvaluatedModel Open(string path, string? tokenizerPath, CompressedModelFormat format)
    {
        if (format.Reader is { } reader && File.Exists(path) && reader.Recognizes(path)) return reader.Open(path, tokenizerPath);
        var checkpoint = ModelCheckpoint.Open(path);
        try
        {
            return EvaluatedModel.FromCheckpoint(checkpoint, TokenizerSource.Find(path, tokenizerPath, checkpoint).Tokenizer);
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    /// <summary>A .cald with an adapter over its factors, the adapter's ranks counted at 32 bits.</summary>
    private static EvaluatedModel OpenAdapted(string path, string adapterPath, string? tokenizerPath)
    {
        var loaded = LoadedModel.Open(path);
        try
        {
            var (bind, adapter) = AdapterBinding.Open(loaded, adapterPath);
            var file = loaded.Compressed!;
            var tokenizer = tokenizerPath != null ? Runtime.Tokenization.ModelTokenizer.Load(tokenizerPath) : loaded.EmbeddedTokenizer();
            tokenizer?.CheckFits(loaded.Config.VocabSize, path, tokenizerPath ?? path);
            var bits = AdapterBinding.Bits(file.Content, file.Bits, adapter, new FileInfo(adapterPath).Length);
            return new EvaluatedModel(path, loaded.Config, options => new Transformer(loaded.Config, bind, options), tokenizer, bits, loaded);
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
    }

    private static void WriteText(TextWriter o, string model, string? reference, QualityMetrics m, BitsPerWeight bits)
    {
        var c = CultureInfo.InvariantCulture;
        o.WriteLine($"model              {model}");
        o.WriteLine(string.Create(c, $"chunks             {m.Chunks} × {m.ContextLength} tokens, {m.ScoredTokens} scored"));
        o.WriteLine(string.Create(c, $"perplexity         {m.Perplexity:F4} ± {m.PerplexityStandardError:F4}"));
        if (reference != null)
        {
            o.WriteLine($"reference          {reference}");
            o.WriteLine(string.Create(c, $"reference ppl      {m.ReferencePerplexity:F4}"));
            o.WriteLine(string.Create(c, $"mean KLD           {m.MeanKlDivergence:F6}"));
            o.WriteLine(string.Create(c, $"top-1 agreement    {100 * m.Top1Agreement:F2} %"));
        }
        o.WriteLine($"bits/weight        {bits}");
    }

    private static void WriteJson(TextWriter o, string model, string? reference, QualityMetrics m, BitsPerWeight bits)
    {
        var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("model", model);
            if (reference != null) w.WriteString("reference", reference);
            w.WriteNumber("ctx", m.ContextLength);
            w.WriteNumber("chunks", m.Chunks);
            w.WriteNumber("scored_tokens", m.ScoredTokens);
            w.WriteNumber("perplexity", m.Perplexity);
            w.WriteNumber("perplexity_stderr", m.PerplexityStandardError);
            if (m.ReferencePerplexity is { } rp) w.WriteNumber("reference_perplexity", rp);
            if (m.MeanKlDivergence is { } kl) w.WriteNumber("mean_kld", kl);
            if (m.Top1Agreement is { } top1) w.WriteNumber("top1_agreement", top1);
            w.WriteNumber("file_bits_per_weight", bits.File);
            w.WriteNumber("file_bytes", bits.FileBytes);
            w.WriteNumber("parameters", bits.Parameters);
            w.WriteNumber("layer_bits_per_weight", bits.LinearLayers);
            w.WriteEndObject();
        }
        o.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }
}
