using System.CommandLine;
using System.Globalization;
using Caldera.Cli.Progress;
using Caldera.Compiler.Adapters;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tokenization;
using Caldera.Runtime.Training.Adapters;
using Caldera.Runtime.Training.FineTuning;

namespace Caldera.Cli;

/// <summary>
/// <c>caldera finetune</c>: trains the top ranks of a compressed model's low-rank factors on a text, Q and the other
/// ranks frozen, and writes an adapter (.calda) that <c>run</c> and <c>eval</c> take with <c>--adapter</c>. With
/// <c>--teacher</c> the objective is distillation toward that checkpoint's distributions; without it, next-token loss.
/// The adapter is written only when training finishes: a cancelled or failed run leaves no adapter, only
/// <c>&lt;output&gt;.checkpoint</c> (state about twenty times a run) for <c>--resume</c>, deleted once the adapter is written.
/// </summary>
internal static class FineTuneCommand
{
    private static readonly Argument<string> Model = CliOptions.Model("The compressed .cald model to adapt.");
    private static readonly Option<string?> Text = CliOptions.Text("--text", "UTF-8 text to train on (required); it never leaves this machine and is not stored in the adapter.");
    private static readonly Option<string?> Output = CliOptions.Text("--output", "The adapter file to write (required), conventionally .calda.", "file", "-o");
    private static readonly Option<string?> Teacher = CliOptions.Text("--teacher",
        "Distil toward this full-precision checkpoint (the one the model was compressed from) instead of the next-token loss.", "checkpoint");
    private static readonly Option<int> Rank = CliOptions.Int("--rank", "Top ranks of each matrix's factors that train (a matrix with fewer trains all of its own).", 16, min: 1, helpName: "R");
    private static readonly Option<int?> Steps = CliOptions.OptionalInt("--steps", "Optimizer steps; default: --epochs passes over the text.", min: 1);
    private static readonly Option<int> Epochs = CliOptions.Int("--epochs", "Passes over the training windows when --steps is not given.", 1, min: 1, helpName: "E");
    private static readonly Option<float> LearningRate = CliOptions.Float("--lr", "Peak learning rate (AdamW, 5 % linear warmup, then linear decay).", 1e-4f,
        r => r > 0 ? null : "must be positive");
    private static readonly Option<int> SequenceLength = CliOptions.Int("--seq-len", "Tokens per training window.", 128, min: 2, helpName: "L");
    private static readonly Option<int> Accumulation = CliOptions.Int("--accumulation", "Windows whose gradients make one step.", 1, min: 1);
    private static readonly Option<float> Validation = CliOptions.Float("--validation", "Share of the text, from its end, held out to keep the best step (0: keep the last).", 0f,
        f => f is >= 0 and < 1 ? null : "must be in [0, 1)");
    private static readonly Option<int?> Threads = CliOptions.OptionalInt("--threads", "Worker threads; default: one per processor. The adapter is the same at any count.", min: 1);
    private static readonly Option<bool> QuantizationAware = CliOptions.Flag("--quantization-aware",
        "Train the ranks through the rounding of caldera adapter merge (4-bit factors: the base's first-stage words kept, straight-through gradient), so that the merged .cald is the model trained.");
    private static readonly Option<bool> TrainNorms = CliOptions.Flag("--train-norms",
        "Train every RMSNorm gain too (each block's two norms and the final one, no weight decay); the adapter holds them and adapter merge writes them into the .cald.");
    private static readonly Option<bool> Resume = CliOptions.Flag("--resume",
        "Go on from <output>.checkpoint, which a stopped or killed run of the same model, text and settings left; the adapter is the one an uninterrupted run writes.");

    public static Command Create(CliContext cli)
    {
        var command = new Command("finetune", "Fine-tune a .cald model's low-rank factors on a text (or distil it toward its checkpoint) and write an adapter.")
        {
            Model, Text, Output, Teacher, Rank, Steps, Epochs, LearningRate, SequenceLength, Accumulation, Validation, QuantizationAware, TrainNorms, Threads, Resume,
        };
        command.SetAction(parsed => Execute(parsed, cli));
        return command;
    }

    private static int Execute(ParseResult parsed, CliContext cli)
    {
        string modelPath = parsed.GetValue(Model)!;
        string textPath = parsed.GetValue(Text) ?? throw new CliUsageException("finetune: --text <file> is required");
        string output = parsed.GetValue(Output) ?? throw new CliUsageException("finetune: -o <adapter> is required");
        if (!File.Exists(modelPath) || !CaldFile.HasMagic(modelPath))
            throw new CliUsageException($"finetune: {modelPath} is not a .cald compressed model; compress it first with caldera compress");
        if (!File.Exists(textPath)) throw new CliUsageException($"finetune: --text {textPath} does not exist; pass an existing UTF-8 file");
        string text = File.ReadAllText(textPath);
        if (string.IsNullOrWhiteSpace(text)) throw new CliUsageException($"finetune: --text {textPath} is empty; give a text to fine-tune on");
        int threads = parsed.GetValue(Threads) ?? Environment.ProcessorCount;
        var settings = new FineTuneSettings
        {
            Rank = parsed.GetValue(Rank), Steps = parsed.GetValue(Steps), Epochs = parsed.GetValue(Epochs), LearningRate = parsed.GetValue(LearningRate),
            SequenceLength = parsed.GetValue(SequenceLength), Accumulation = parsed.GetValue(Accumulation),
            ValidationFraction = parsed.GetValue(Validation), QuantizationAware = parsed.GetValue(QuantizationAware),
            TrainNorms = parsed.GetValue(TrainNorms), Threads = threads,
        };

        using var file = CaldFile.Open(modelPath);
        // The training pass reads the classifier as a dense matrix: a classifier stored compressed would need its own frozen Q·u path there.
        if (file.Content.Matrices.Any(m => m.Name == TensorNames.Output))
            throw new CliUsageException($"finetune: {modelPath} stores its classifier compressed (caldera compress --classifier caldera), " +
                "which fine-tuning does not train through; compress the model with --classifier embedding (the default) to fine-tune it");
        var payload = file.Content.Tokenizer ?? throw new ModelFormatException(modelPath, "carries no tokenizer, so the text cannot be read as its tokens");
        int[] tokens = ModelTokenizer.FromPayload(payload, modelPath).Encode(text, addBos: true);
        string? teacherPath = parsed.GetValue(Teacher);
        using var teacherModel = teacherPath is null ? null : LoadedModel.Open(teacherPath);
        if (teacherModel?.Compressed != null) throw new CliUsageException($"finetune: --teacher {teacherPath} is a .cald; distil from the full-precision checkpoint");
        using var teacherTransformer = teacherModel?.CreateTransformer(new TransformerOptions
        {
            Threads = threads, ContextLength = Math.Min(settings.SequenceLength, teacherModel.Config.ContextLength),
        });
        var teacher = teacherTransformer is null ? null : new TransformerTeacher(teacherTransformer);

        var tuner = new FineTuner(file.Content, file.Checksum, Path.GetFileName(modelPath), settings, FactorRequantization.Nearest);
        string checkpoint = output + ".checkpoint";
        bool resume = parsed.GetValue(Resume);
        LowRankAdapter adapter;
        try
        {
            adapter = cli.Terminal is { } terminal
                ? FineTuneBar.Run(terminal, progress => tuner.Run(tokens, teacher, progress, cli.Cancellation, checkpoint, resume))
                : tuner.Run(tokens, teacher, new FineTuneLines(cli.Error), cli.Cancellation, checkpoint, resume);
        }
        catch (FineTuningException e)
        {
            // A diverged run would diverge again from its checkpoint.
            File.Delete(checkpoint);
            throw new CliUsageException($"finetune: {e.Message}");
        }
        catch (OperationCanceledException) when (cli.Cancellation.IsCancellationRequested)
        {
            cli.Error.WriteLine($"caldera: cancelled; no adapter was written to {output}" +
                (File.Exists(checkpoint) ? $" (rerun with --resume to go on from {checkpoint})" : ""));
            return CalderaCli.Cancelled;
        }
        if (teacherPath != null) adapter = adapter with { Training = adapter.Training with { Teacher = Path.GetFileName(teacherPath) } };
        AdapterFile.Write(output, adapter);
        File.Delete(checkpoint);
        var t = adapter.Training;
        cli.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"wrote {output} ({new FileInfo(output).Length} bytes): {adapter.Matrices.Count} matrices × rank {adapter.Rank}, {t.Steps} steps on {t.TrainedTokens} tokens, loss {t.Losses[0]:F4} → {t.Losses[^1]:F4}") +
            (t.ValidationLosses.Count > 0 ? string.Create(CultureInfo.InvariantCulture, $", kept step {t.KeptStep} (validation {t.ValidationLosses.Min(v => v.Loss):F4})") : ""));
        return 0;
    }
}
