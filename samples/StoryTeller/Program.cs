using System.Diagnostics;
using Caldera;
using Microsoft.Extensions.AI;
using StoryTeller;

// StoryTeller [prompt] [--max-tokens N] [--temperature T] [--seed S] [--chat] [--timing] [--float] [--context N]
// Tells a story from the model compiled into this executable (the generated class Stories).
try
{
    var settings = Settings.Parse(args);
    // --context bounds the KV cache (the memory that grows with positions) on a small device; --float runs every step in
    // float instead of the default integer arithmetic.
    using var model = Stories.Load(new CalderaModelOptions { Int8Arithmetic = !settings.Float, ContextLength = settings.Context });
    if (settings.Chat) await Chat(model, settings);
    else Tell(model, settings);
    return 0;
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"StoryTeller: {e.Message}");
    Console.Error.WriteLine("usage: StoryTeller [prompt] [--max-tokens N] [--temperature T] [--seed S] [--chat] [--timing] [--float] [--context N]");
    return 2;
}
catch (ModelFormatException e)
{
    // A missing, stale or corrupt model blob: the message names it and says how to rebuild.
    Console.Error.WriteLine($"StoryTeller: {e.Message}");
    return 2;
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

/// <summary>The command line.</summary>
internal sealed record Settings(string Prompt, int MaxTokens, float Temperature, ulong? Seed, bool Chat, bool Timing, bool Float, int? Context)
{
    public static Settings Parse(string[] args)
    {
        string prompt = "Once upon a time";
        int maxTokens = 256;
        float temperature = 0f;
        ulong? seed = null;
        bool chat = false, timing = false, useFloat = false, promptSeen = false;
        int? context = null;
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
                default:
                    if (args[i].StartsWith("--", StringComparison.Ordinal) || promptSeen)
                        throw new ArgumentException($"unexpected argument '{args[i]}'");
                    prompt = args[i];
                    promptSeen = true;
                    break;
            }
        }
        return new Settings(prompt, maxTokens, temperature, seed, chat, timing, useFloat, context);
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
