using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Caldera.Benchmarks.Inference;

/// <summary>
/// The load script for an OpenAI-compatible chat server (samples/ChatServer, or llama.cpp's llama-server for the
/// comparison): for each client count C, C streaming chat completions start at once, each with its own prompt and
/// <c>max_tokens</c>, greedy; prints the aggregate completion tokens/s (every client's completion tokens, from the
/// streamed usage, over the wall time from the first request to the last event), the time to the first content event
/// (median and worst) and the p50/p95 gap between a client's content events over all clients. Every request has a time
/// limit, and the server's address is the user's (loopback in the docs).
///   dotnet benchmarks/Caldera.Benchmarks/bin/Release/net10.0/Caldera.Benchmarks.dll chat-load http://127.0.0.1:8080 [tokens] [C…]
/// </summary>
internal static class ChatLoadProbe
{
    private static readonly string[] Prompts =
    [
        "Once upon a time", "The dog", "Lily wanted to play", "Tom had a ball", "One day", "The sun was hot", "Mom said", "A bird",
    ];

    public static void Run(string[] args)
    {
        if (args.Length < 1 || !Uri.TryCreate(args[0], UriKind.Absolute, out var server))
            throw new ArgumentException("chat-load: give the server's base address, e.g. http://127.0.0.1:8080");
        int tokens = args.Length > 1 ? int.Parse(args[1]) : 64;
        int[] counts = args.Length > 2 ? [.. args[2..].Select(int.Parse)] : [1, 2, 4, 8];
        using var http = new HttpClient { BaseAddress = server, Timeout = TimeSpan.FromMinutes(5) };
        string model = Model(http);
        Console.WriteLine($"{server} ({model}), {tokens} completion tokens per client, greedy, streamed");
        Console.WriteLine("| clients | aggregate tok/s | TTFT median / worst (ms) | gap between tokens p50 / p95 (ms) |");
        Console.WriteLine("|---:|---:|---:|---:|");
        Measure(http, model, 1, 8); // warm-up
        foreach (int clients in counts)
        {
            var (aggregate, ttft, gaps) = Measure(http, model, clients, tokens);
            Array.Sort(ttft);
            Array.Sort(gaps);
            Console.WriteLine($"| {clients} | {aggregate:F2} | {ttft[ttft.Length / 2]:F0} / {ttft[^1]:F0} | {SessionsProbe.Percentile(gaps, 0.5):F1} / {SessionsProbe.Percentile(gaps, 0.95):F1} |");
        }
    }

    private static string Model(HttpClient http)
    {
        using var models = JsonDocument.Parse(http.GetStringAsync("/v1/models").GetAwaiter().GetResult());
        return models.RootElement.GetProperty("data")[0].GetProperty("id").GetString()
            ?? throw new InvalidOperationException("the server's /v1/models lists no model id");
    }

    private static (double Aggregate, double[] Ttft, double[] Gaps) Measure(HttpClient http, string model, int clients, int tokens)
    {
        long start = Stopwatch.GetTimestamp();
        var runs = Enumerable.Range(0, clients).Select(i => Task.Run(() => Stream(http, model, Prompts[i % Prompts.Length], tokens, start))).ToArray();
        Task.WaitAll(runs);
        double wall = Stopwatch.GetElapsedTime(start).TotalSeconds;
        return (runs.Sum(r => r.Result.Tokens) / wall, [.. runs.Select(r => r.Result.Ttft)], [.. runs.SelectMany(r => r.Result.Gaps)]);
    }

    private static async Task<(int Tokens, double Ttft, List<double> Gaps)> Stream(HttpClient http, string model, string prompt, int tokens, long start)
    {
        string body = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["model"] = model, ["stream"] = true, ["max_tokens"] = tokens, ["temperature"] = 0,
            ["stream_options"] = new Dictionary<string, object> { ["include_usage"] = true },
            ["messages"] = new[] { new Dictionary<string, string> { ["role"] = "user", ["content"] = prompt } },
        });
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        double ttft = double.NaN;
        long last = 0;
        int completion = 0;
        var gaps = new List<double>();
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            string data = line[6..];
            if (data == "[DONE]") break;
            long now = Stopwatch.GetTimestamp();
            using var chunk = JsonDocument.Parse(data);
            var root = chunk.RootElement;
            if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
                completion = usage.GetProperty("completion_tokens").GetInt32();
            if (!root.TryGetProperty("choices", out var choices) || choices.GetArrayLength() == 0) continue;
            if (!choices[0].TryGetProperty("delta", out var delta) || !delta.TryGetProperty("content", out var content)
                || content.ValueKind != JsonValueKind.String || content.GetString() is not { Length: > 0 }) continue;
            if (double.IsNaN(ttft)) ttft = Stopwatch.GetElapsedTime(start, now).TotalMilliseconds;
            else gaps.Add(Stopwatch.GetElapsedTime(last, now).TotalMilliseconds);
            last = now;
        }
        return (completion, ttft, gaps);
    }

}
