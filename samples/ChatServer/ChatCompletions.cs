using System.Text.Json;
using Caldera;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.AI;

namespace ChatServer;

/// <summary>
/// OpenAI's chat completions on one <see cref="CalderaModel"/>: each request runs on a session of its own (waiting for
/// one while <see cref="CalderaModelOptions.MaxSessions"/> are busy), streamed as server-sent events or returned whole.
/// A request that repeats an earlier conversation runs on the cache that conversation left, so only its new tokens
/// are prefilled (<c>usage.prompt_tokens_details.cached_tokens</c> says how many were reused).
/// A request that cannot run (malformed JSON, a field of the wrong type, an unknown model, a prompt over the context, a
/// setting out of range) gets a 400 with OpenAI's error body before any generation; a client that goes away cancels
/// its generation, which frees its session.
/// </summary>
public sealed class ChatCompletions(CalderaModel model)
{
    public IResult ListModels() =>
        Results.Json(new ModelList { Data = [new ModelCard { Id = model.Name }] }, OpenAIJsonContext.Default.ModelList);

    public async Task Complete(HttpContext context)
    {
        var aborted = context.RequestAborted;
        ChatCompletionRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync(context.Request.Body, OpenAIJsonContext.Default.ChatCompletionRequest, aborted);
        }
        catch (JsonException e)
        {
            await Error(context, $"the body is not a valid chat completion request: {e.Message}", e.Path);
            return;
        }
        if (request is null)
        {
            await Error(context, "the body is empty; send a JSON chat completion request", null);
            return;
        }
        if (request.Model is not null && !string.Equals(request.Model, model.Name, StringComparison.OrdinalIgnoreCase))
        {
            await Error(context, $"the model '{request.Model}' does not exist; this server serves '{model.Name}' (GET /v1/models)", "model", "model_not_found");
            return;
        }
        if (Messages(request, out string? problem) is not { } messages)
        {
            await Error(context, problem!, "messages");
            return;
        }
        var options = new ChatOptions
        {
            MaxOutputTokens = request.MaxCompletionTokens ?? request.MaxTokens,
            Temperature = request.Temperature ?? 1f,
            TopP = request.TopP ?? 1f,
            Seed = request.Seed,
            StopSequences = request.Stop,
        };
        string id = $"chatcmpl-{Guid.NewGuid():N}";
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        try
        {
            if (request.Stream) await Stream(context, messages, options, id, created, request.StreamOptions?.IncludeUsage == true);
            else await Whole(context, messages, options, id, created);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The client went away: its generation was cancelled and its session freed.
        }
    }

    private async Task Whole(HttpContext context, List<ChatMessage> messages, ChatOptions options, string id, long created)
    {
        ChatResponse response;
        try
        {
            response = await model.GetResponseAsync(messages, options, context.RequestAborted);
        }
        catch (ArgumentException e)
        {
            await Error(context, e.Message, e.ParamName);
            return;
        }
        var completion = new ChatCompletion
        {
            Id = id, Created = created, Model = model.Name,
            Choices = [new Choice { Message = new ResponseMessage { Role = "assistant", Content = response.Text }, FinishReason = FinishReason(response.FinishReason) }],
            Usage = ToUsage(response.Usage),
        };
        await context.Response.WriteAsJsonAsync(completion, OpenAIJsonContext.Default.ChatCompletion, contentType: null, context.RequestAborted);
    }

    private async Task Stream(HttpContext context, List<ChatMessage> messages, ChatOptions options, string id, long created, bool includeUsage)
    {
        var aborted = context.RequestAborted;
        await using var updates = model.GetStreamingResponseAsync(messages, options, aborted).GetAsyncEnumerator(aborted);
        bool more;
        try
        {
            // A request that cannot run fails at its first update, before any event is sent: it still gets its 400.
            more = await updates.MoveNextAsync();
        }
        catch (ArgumentException e)
        {
            await Error(context, e.Message, e.ParamName);
            return;
        }
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        await Send(context, Chunk(new ResponseMessage { Role = "assistant", Content = "" }, null));
        string? finishReason = null;
        Usage? usage = null;
        for (; more; more = await updates.MoveNextAsync())
        {
            var update = updates.Current;
            if (update.Text.Length > 0) await Send(context, Chunk(new ResponseMessage { Content = update.Text }, null));
            if (update.FinishReason is { } reason) finishReason = FinishReason(reason);
            if (update.Contents.OfType<UsageContent>().FirstOrDefault() is { } content) usage = ToUsage(content.Details);
        }
        await Send(context, Chunk(new ResponseMessage(), finishReason ?? "stop"));
        if (includeUsage) await Send(context, new ChatCompletionChunk { Id = id, Created = created, Model = model.Name, Choices = [], Usage = usage });
        await context.Response.WriteAsync("data: [DONE]\n\n", aborted);
        await context.Response.Body.FlushAsync(aborted);

        ChatCompletionChunk Chunk(ResponseMessage delta, string? finish) =>
            new() { Id = id, Created = created, Model = model.Name, Choices = [new Choice { Delta = delta, FinishReason = finish }] };
    }

    private static async Task Send(HttpContext context, ChatCompletionChunk chunk)
    {
        await context.Response.WriteAsync($"data: {JsonSerializer.Serialize(chunk, OpenAIJsonContext.Default.ChatCompletionChunk)}\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    /// <summary>The request's messages as Microsoft.Extensions.AI's, or null and what is wrong with them.</summary>
    private static List<ChatMessage>? Messages(ChatCompletionRequest request, out string? problem)
    {
        problem = null;
        if (request.Messages is not { Count: > 0 } messages)
        {
            problem = "messages must be a non-empty array";
            return null;
        }
        var chat = new List<ChatMessage>(messages.Count);
        for (int i = 0; i < messages.Count; i++)
        {
            ChatRole? role = messages[i].Role switch
            {
                "system" or "developer" => ChatRole.System,
                "user" => ChatRole.User,
                "assistant" => ChatRole.Assistant,
                _ => null,
            };
            string? text = Text(messages[i].Content);
            if (role is null || text is null)
            {
                problem = $"messages[{i}] must have role system, developer, user or assistant and text content (a string or text parts)";
                return null;
            }
            chat.Add(new ChatMessage(role.Value, text));
        }
        return chat;
    }

    private static string? Text(JsonElement content)
    {
        switch (content.ValueKind)
        {
            case JsonValueKind.String:
                return content.GetString();
            case JsonValueKind.Null:
                return "";
            case JsonValueKind.Array:
                var text = new System.Text.StringBuilder();
                foreach (var part in content.EnumerateArray())
                {
                    if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String
                        || type.GetString() != "text" || !part.TryGetProperty("text", out var value) || value.ValueKind != JsonValueKind.String)
                        return null;
                    text.Append(value.GetString());
                }
                return text.ToString();
            default:
                return null;
        }
    }

    private static string FinishReason(ChatFinishReason? reason) => reason == ChatFinishReason.Length ? "length" : "stop";

    private static Usage? ToUsage(UsageDetails? usage) => usage is null ? null : new Usage
    {
        PromptTokens = (int)(usage.InputTokenCount ?? 0),
        CompletionTokens = (int)(usage.OutputTokenCount ?? 0),
        TotalTokens = (int)(usage.TotalTokenCount ?? 0),
        PromptTokensDetails = new PromptTokensDetails { CachedTokens = (int)(usage.CachedInputTokenCount ?? 0) },
    };

    private static Task Error(HttpContext context, string message, string? param, string? code = null)
    {
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        return context.Response.WriteAsJsonAsync(new ErrorResponse { Error = new ErrorBody { Message = message, Param = param, Code = code } },
            OpenAIJsonContext.Default.ErrorResponse);
    }
}
