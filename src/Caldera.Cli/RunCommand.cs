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
internal static class RunCommand
{

    public static int Execute(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var options = RunOptions.Parse(args);
        using var model = LoadedModel.Open(options.ModelPath);
        var tokenizer = LoadTokenizer(options, model);
        int steps = Math.Min(options.Steps, model.Config.ContextLength);
        using var transformer = model.CreateTransformer(new TransformerOptions
        {
            Threads = options.Threads, ContextLength = steps, Int8Activations = !options.Exact,
            ClassifierPrecision = options.Exact ? ClassifierPrecision.Stored : ClassifierPrecision.Int6,
        });
        var generator = new TextGenerator(transformer, tokenizer);
        // --steps counts positions, prompt included (llama2.c's steps): the context is that long, so it is what stops
        // generation; any output limit at least as large leaves it so.
        var generation = new GenerationOptions { MaxOutputTokens = steps, Sampling = options.Sampling, EchoPrompt = true };
        foreach (var piece in generator.Generate(options.Prompt, generation))
        {
            stdout.Write(piece);
            stdout.Flush();
        }
        stdout.WriteLine();
        if (generator.LastRun is { } run)
            stderr.WriteLine(string.Create(CultureInfo.InvariantCulture, $"achieved tok/s: {run.TokensPerSecond:F2}"));
        return 0;
    }

    /// <summary>--tokenizer, else the tokenizer a .cald file carries, else what <see cref="TokenizerSource"/> finds for a checkpoint
    /// (tokenizer.model/tokenizer.json inside or beside it, then its embedded vocabulary).</summary>
    private static ModelTokenizer LoadTokenizer(RunOptions options, LoadedModel model)
    {
        if (options.TokenizerPath is { } explicitPath)
        {
            var chosen = ModelTokenizer.Load(explicitPath);
            chosen.CheckFits(model.Config.VocabSize, options.ModelPath, explicitPath);
            return chosen;
        }
        if (model.EmbeddedTokenizer() is { } carried) return carried;
        if (model.Checkpoint is { } checkpoint) return TokenizerSource.Find(options.ModelPath, null, checkpoint).Tokenizer;
        throw new ModelFormatException(options.ModelPath, "carries no tokenizer (its manifest's \"tokenizer\" is null); pass --tokenizer <file>");
    }

    private sealed record RunOptions(string ModelPath, string? TokenizerPath, string Prompt, int Steps, int Threads, SamplingOptions Sampling, bool Exact)
    {
        public static RunOptions Parse(string[] args)
        {
            string? model = null, tokenizer = null, prompt = null;
            int steps = 256, threads = Environment.ProcessorCount, topK = 0;
            float temperature = 1f, topP = 0.9f, penalty = 1f;
            ulong? seed = null;
            bool exact = false;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < args.Length; i++)
            {
                string arg = args[i];
                if (!arg.StartsWith("--", StringComparison.Ordinal))
                {
                    if (model != null) throw new CliUsageException($"run: unexpected argument '{arg}' (the model is already '{model}')");
                    model = arg;
                    continue;
                }
                if (!seen.Add(arg)) throw new CliUsageException($"run: {arg} is given twice");
                if (arg == "--float")
                {
                    exact = true;
                    continue;
                }
                if (i + 1 >= args.Length) throw new CliUsageException($"run: {arg} needs a value");
                string value = args[++i];
                switch (arg)
                {
                    case "--tokenizer": tokenizer = value; break;
                    case "--prompt": prompt = value; break;
                    case "--steps": steps = Int(arg, value, min: 1); break;
                    case "--threads": threads = Int(arg, value, min: 1); break;
                    case "--top-k": topK = Int(arg, value, min: 0); break;
                    case "--temperature":
                        temperature = Float(arg, value);
                        if (temperature < 0) throw new CliUsageException($"run: --temperature {value} is negative; use 0 for greedy or a positive value");
                        break;
                    case "--top-p":
                        topP = Float(arg, value);
                        if (!(topP > 0 && topP <= 1)) throw new CliUsageException($"run: --top-p {value} is outside (0, 1]; use 1 to turn it off");
                        break;
                    case "--repetition-penalty":
                        penalty = Float(arg, value);
                        if (!(penalty > 0)) throw new CliUsageException($"run: --repetition-penalty {value} must be > 0 (1 = off)");
                        break;
                    case "--seed":
                        if (!ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out ulong s))
                            throw new CliUsageException($"run: --seed '{value}' is not a non-negative integer");
                        seed = s;
                        break;
                    default: throw new CliUsageException($"run: unknown option {arg}");
                }
            }
            if (model is null) throw new CliUsageException("run: no model given");
            if (prompt is null) throw new CliUsageException("run: --prompt is required");
            var sampling = new SamplingOptions { Temperature = temperature, TopP = topP, TopK = topK, RepetitionPenalty = penalty, Seed = seed };
            return new RunOptions(model, tokenizer, prompt, steps, threads, sampling, exact);
        }

        private static int Int(string option, string value, int min)
        {
            if (!int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int n))
                throw new CliUsageException($"run: {option} '{value}' is not an integer");
            if (n < min) throw new CliUsageException($"run: {option} {n} must be at least {min}");
            return n;
        }

        private static float Float(string option, string value)
        {
            if (!float.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out float f) || !float.IsFinite(f))
                throw new CliUsageException($"run: {option} '{value}' is not a number");
            return f;
        }
    }
}
