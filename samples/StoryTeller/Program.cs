using System.Diagnostics;
using Caldera;
using Microsoft.Extensions.AI;
using StoryTeller;

// StoryTeller [prompt] [--max-tokens N] [--temperature T] [--seed S] [--chat] [--timing] [--float] [--context N] [--adapter A]
// StoryTeller --adapt <text file> --adapter A [--steps N (default 200)]
// Tells a story from the model compiled into this executable (the generated class Stories), or adapts that model to
// the user's text on this device and writes the adapter that --adapter then runs over it.
const string Usage = "usage: StoryTeller [prompt] [--max-tokens N] [--temperature T] [--seed S] [--chat] [--timing] [--float] [--context N] [--adapter A]\n" +
    "       StoryTeller --adapt <text file> --adapter A [--steps N]";
try
{
    var settings = Settings.Parse(args);
    if (settings.AdaptText is { } textPath) return await Adapt(textPath, settings.Adapter!, settings.Steps);
    // --context bounds the KV cache (the memory that grows with positions) on a small device; --float runs every step in
    // float instead of the default integer arithmetic.
    using var model = Stories.Load(new CalderaModelOptions
    {
        Int8Arithmetic = !settings.Float, ContextLength = settings.Context, AdapterPath = settings.Adapter,
    });
    if (settings.Chat) await Chat(model, settings);
    else Tell(model, settings);
    return 0;
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"StoryTeller: {e.Message}");
    Console.Error.WriteLine(Usage);
    return 2;
}
catch (Exception e) when (e is ModelFormatException or FineTuningException)
{
    // A missing, stale or corrupt model blob or adapter, or a text too short to train on: the message names it and
    // says what to do.
    Console.Error.WriteLine($"StoryTeller: {e.Message}");
    return 2;
}

// Trains the top ranks of the compiled-in model's low-rank factors on the text (everything else frozen) and writes them
// to adapterPath; Ctrl+C stops it and writes nothing.
static async Task<int> Adapt(string textPath, string adapterPath, int? steps)
{
    if (!File.Exists(textPath)) throw new ArgumentException($"--adapt {textPath}: no such file; give a UTF-8 text file to adapt the model to");
    string text = File.ReadAllText(textPath);
    using var cancel = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
    using var model = Stories.Load();
    // The library's default learning rate (1e-4) suits a long run on a large text; a user's few kilobytes get a few
    // hundred steps at most, which move the factors far enough only at a higher rate.
    var options = new FineTuneOptions { Steps = steps ?? 200, LearningRate = 1e-3 };
    try
    {
        await model.FineTuneAsync([text], adapterPath, options, new ProgressLines(), cancel.Token);
    }
    catch (OperationCanceledException) when (cancel.IsCancellationRequested)
    {
        Console.Error.WriteLine($"StoryTeller: cancelled; no adapter was written to {adapterPath}");
        return 130;
    }
    Console.Error.WriteLine($"wrote {adapterPath} ({new FileInfo(adapterPath).Length} bytes); tell a story with it: StoryTeller --adapter {adapterPath} \"prompt\"");
    return 0;
}

static void Tell(Stories model, Settings settings)
{
    var options = new GenerationOptions
    {
        MaxOutputTokens = settings.MaxTokens,
        EchoPrompt = true,
        Sampling = new SamplingOptions { Temperature = settings.Temperature, Seed = settings.Seed },
    };
    bool first = true;
    foreach (string piece in model.Generate(settings.Prompt, options))
    {
        if (first && settings.Timing) ReportStartup();
        first = false;
        Console.Write(piece);
    }
    Console.WriteLine();
}

// Through Microsoft.Extensions.AI's IChatClient, as code written for any chat model would use it.
static async Task Chat(IChatClient client, Settings settings)
{
    Console.Error.WriteLine("Write the start of a story and press Enter (an empty line quits).");
    while (Console.ReadLine() is { Length: > 0 } line)
    {
        var options = new ChatOptions { MaxOutputTokens = settings.MaxTokens, Temperature = settings.Temperature, Seed = (long?)settings.Seed };
        Console.Write(line);
        await foreach (var update in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, line)], options))
            Console.Write(update.Text);
        Console.WriteLine();
    }
}

static void ReportStartup()
{
    var sinceStart = DateTime.Now - Process.GetCurrentProcess().StartTime;
    Console.Error.WriteLine($"[first token {sinceStart.TotalMilliseconds:F0} ms after process start]");
}

/// <summary>Prints the first step, then a step a second and the last, each with the step's loss, the speed and the time left.</summary>
internal sealed class ProgressLines : IProgress<FineTuneProgress>
{
    private TimeSpan? _printed;

    public void Report(FineTuneProgress p)
    {
        if (p.Elapsed - _printed < TimeSpan.FromSeconds(1) && p.Step != p.TotalSteps) return;
        _printed = p.Elapsed;
        Console.Error.WriteLine($"step {p.Step}/{p.TotalSteps}  loss {p.Loss:F3}  {p.TokensPerSecond:F0} tok/s  ETA {p.Remaining:h\\:mm\\:ss}");
    }
}

/// <summary>The command line.</summary>
internal sealed record Settings(string Prompt, int MaxTokens, float Temperature, ulong? Seed, bool Chat, bool Timing, bool Float, int? Context,
    string? Adapter, string? AdaptText, int? Steps)
{
    public static Settings Parse(string[] args)
    {
        string prompt = "Once upon a time";
        int maxTokens = 256;
        float temperature = 0f;
        ulong? seed = null;
        bool chat = false, timing = false, useFloat = false, promptSeen = false;
        int? context = null, steps = null;
        string? adapter = null, adaptText = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--chat": chat = true; break;
                case "--timing": timing = true; break;
                case "--float": useFloat = true; break;
                case "--context": context = Parse(args, ref i, int.TryParse, "a whole number of positions ≥ 1", (int c) => c >= 1); break;
                case "--max-tokens": maxTokens = Parse(args, ref i, int.TryParse, "a whole number of tokens ≥ 1", (int s) => s >= 1); break;
                case "--temperature": temperature = Parse(args, ref i, float.TryParse, "a number ≥ 0 (0 = greedy)", (float t) => t >= 0 && float.IsFinite(t)); break;
                case "--seed": seed = Parse(args, ref i, ulong.TryParse, "a whole number ≥ 0", (ulong _) => true); break;
                case "--adapter": adapter = Parse(args, ref i, Text, "an adapter file (.calda)", (string _) => true); break;
                case "--adapt": adaptText = Parse(args, ref i, Text, "a UTF-8 text file", (string _) => true); break;
                case "--steps": steps = Parse(args, ref i, int.TryParse, "a whole number of optimizer steps ≥ 1", (int s) => s >= 1); break;
                default:
                    if (args[i].StartsWith("--", StringComparison.Ordinal) || promptSeen)
                        throw new ArgumentException($"unexpected argument '{args[i]}'");
                    prompt = args[i];
                    promptSeen = true;
                    break;
            }
        }
        if (adaptText != null && adapter == null) throw new ArgumentException("--adapt needs --adapter <file> to write the adapter to");
        if (steps != null && adaptText == null) throw new ArgumentException("--steps counts training steps; it goes with --adapt");
        return new Settings(prompt, maxTokens, temperature, seed, chat, timing, useFloat, context, adapter, adaptText, steps);
    }

    private static bool Text(string text, out string value)
    {
        value = text;
        return true;
    }

    private delegate bool TryParse<T>(string text, out T value);

    private static T Parse<T>(string[] args, ref int i, TryParse<T> tryParse, string expected, Func<T, bool> valid)
    {
        string option = args[i];
        if (++i >= args.Length) throw new ArgumentException($"{option} needs a value: {expected}");
        if (!tryParse(args[i], out var value) || !valid(value)) throw new ArgumentException($"{option} {args[i]}: expected {expected}");
        return value;
    }
}
