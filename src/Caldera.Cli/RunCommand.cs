using System.CommandLine;
using System.Globalization;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;
using Caldera.Runtime.Sampling;
using Caldera.Runtime.Tokenization;

namespace Caldera.Cli;

/// <summary>
/// <c>caldera run</c>: generate text from a prompt, as llama2.c's <c>run</c> does: the prompt's text, then
/// the continuation, then a newline on stdout, and the speed on stderr.
/// </summary>
/// <remarks>
/// A checkpoint runs at its own precision, so its outputs are the checkpoint's (stories260K gives llama2.c's story
/// byte for byte); a .cald runs the int8 path (int8 activations, 6-bit classifier) whose quality docs/quality.md
/// measures. <c>--int8</c> and <c>--float</c> choose either path for any model.
/// </remarks>
internal static class RunCommand
{
    private static readonly Argument<string> Model = CliOptions.Model("The model: a Hugging Face directory, a .gguf file, a llama2.c .bin or a .cald model.");
    private static readonly Option<string?> Prompt = CliOptions.Text("--prompt", "The text to continue (required).", "text");
    private static readonly Option<string?> Tokenizer = CliOptions.Text("--tokenizer",
        "tokenizer.model or tokenizer.json; default: the one a .cald carries, or found inside or beside the checkpoint, or its embedded vocabulary.");
    private static readonly Option<int> Steps = CliOptions.Int("--steps", "Positions to run, prompt included (llama2.c's steps), capped at the model's context.", 256, min: 1);
    private static readonly Option<float> Temperature = CliOptions.Float("--temperature", "Sampling temperature; 0 is greedy.", 1f,
        t => t < 0 ? "is negative; use 0 for greedy or a positive value" : null);
    private static readonly Option<float> TopP = CliOptions.Float("--top-p", "Nucleus sampling: keep the likeliest tokens up to this probability; 1 turns it off.", 0.9f,
        p => p is > 0 and <= 1 ? null : "is outside (0, 1]; use 1 to turn it off");
    private static readonly Option<int> TopK = CliOptions.Int("--top-k", "Keep only the K likeliest tokens; 0 turns it off.", 0, min: 0, helpName: "K");
    private static readonly Option<float> RepetitionPenalty = CliOptions.Float("--repetition-penalty", "Divide the logits of tokens already seen by this; 1 turns it off.", 1f,
        r => r > 0 ? null : "must be > 0 (1 = off)");
    private static readonly Option<ulong?> Seed = new("--seed")
    {
        Description = "Random seed for sampling; default: a new one each run.",
        HelpName = "S",
        CustomParser = r =>
        {
            string value = r.Tokens[0].Value;
            if (ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out ulong s)) return s;
            r.AddError($"--seed '{value}' is not a non-negative integer");
            return null;
        },
    };
    private static readonly Option<int?> Threads = CliOptions.OptionalInt("--threads", "Worker threads; default: one per processor.", min: 1);
    private static readonly Option<string?> Adapter = CliOptions.Text("--adapter", "Run a .cald with this fine-tuned adapter (caldera finetune) over its factors.");
    private static readonly Option<bool> Int8 = CliOptions.Flag("--int8",
        "Decode with int8 arithmetic: int8 activations and a 6-bit copy of the classifier (the default for a .cald).");
    private static readonly Option<bool> Float = CliOptions.Flag("--float",
        "Decode in float with the classifier as stored (the default for a checkpoint).");

    public static Command Create(CliContext cli)
    {
        var command = new Command("run", "Generate text from a prompt: the prompt, then the continuation on stdout, the speed on stderr.")
        {
            Model, Prompt, Tokenizer, Steps, Temperature, TopP, TopK, RepetitionPenalty, Seed, Threads, Adapter, Int8, Float,
        };
        command.SetAction(parsed => Execute(parsed, cli));
        return command;
    }

    private static int Execute(ParseResult parsed, CliContext cli)
    {
        string modelPath = parsed.GetValue(Model)!;
        string prompt = parsed.GetValue(Prompt) ?? throw new CliUsageException("run: --prompt is required");
        if (parsed.GetValue(Int8) && parsed.GetValue(Float)) throw new CliUsageException("run: --int8 and --float exclude each other; pass one");
        using var model = LoadedModel.Open(modelPath);
        var tokenizer = LoadTokenizer(parsed.GetValue(Tokenizer), modelPath, model);
        bool int8 = parsed.GetValue(Int8) || (model.Compressed != null && !parsed.GetValue(Float));
        int steps = Math.Min(parsed.GetValue(Steps), model.Config.ContextLength);
        var bind = parsed.GetValue(Adapter) is { } adapterPath ? AdapterBinding.Open(model, adapterPath).Bind : model.Bind;
        using var transformer = new Transformer(model.Config, bind, new TransformerOptions
        {
            Threads = parsed.GetValue(Threads) ?? Environment.ProcessorCount, ContextLength = steps, Int8Activations = int8,
            ClassifierPrecision = int8 ? ClassifierPrecision.Int6 : ClassifierPrecision.Stored,
        });
        var sampling = new SamplingOptions
        {
            Temperature = parsed.GetValue(Temperature), TopP = parsed.GetValue(TopP), TopK = parsed.GetValue(TopK),
            RepetitionPenalty = parsed.GetValue(RepetitionPenalty), Seed = parsed.GetValue(Seed),
        };
        var generator = new TextGenerator(transformer, tokenizer, modelPath);
        // --steps counts positions, prompt included (llama2.c's steps): the context is that long, so it is what stops
        // generation; any output limit at least as large leaves it so.
        var generation = new GenerationOptions { MaxOutputTokens = steps, Sampling = sampling, EchoPrompt = true };
        foreach (var piece in generator.Generate(prompt, generation))
        {
            cli.Out.Write(piece);
            cli.Out.Flush();
        }
        cli.Out.WriteLine();
        if (generator.LastRun is { } run)
            cli.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"achieved tok/s: prompt {run.PromptTokensPerSecond:F2} ({run.PromptTokens} tokens), generation {run.GenerationTokensPerSecond:F2} ({run.DecodedTokens} tokens); kernels {Runtime.Kernels.KernelPaths.Best}, int8 {Runtime.Kernels.Int8CodedRows.Best}"));
        return 0;
    }

    /// <summary>--tokenizer, else the tokenizer a .cald file carries, else what <see cref="TokenizerSource"/> finds for a checkpoint
    /// (tokenizer.model/tokenizer.json inside or beside it, then its embedded vocabulary).</summary>
    private static ModelTokenizer LoadTokenizer(string? explicitPath, string modelPath, LoadedModel model)
    {
        if (explicitPath is not null)
        {
            var chosen = ModelTokenizer.Load(explicitPath);
            chosen.CheckFits(model.Config.VocabSize, modelPath, explicitPath);
            return chosen;
        }
        if (model.EmbeddedTokenizer() is { } carried) return carried;
        if (model.Checkpoint is { } checkpoint) return TokenizerSource.Find(modelPath, null, checkpoint).Tokenizer;
        throw new ModelFormatException(modelPath, "carries no tokenizer (its manifest's \"tokenizer\" is null); pass --tokenizer <file>");
    }
}
