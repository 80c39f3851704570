using System.Text.Json;
using System.Text.Json.Serialization;

namespace ChatServer;

// The subset of OpenAI's chat completions schema this server reads and writes (snake_case on the wire).

/// <summary>The body of <c>POST /v1/chat/completions</c>; fields the server does not use are ignored.</summary>
public sealed class ChatCompletionRequest
{
    public string? Model { get; set; }
    public List<RequestMessage>? Messages { get; set; }
    public int? MaxTokens { get; set; }

    /// <summary>The newer name of <see cref="MaxTokens"/> (the official .NET library sends this one).</summary>
    public int? MaxCompletionTokens { get; set; }

    public float? Temperature { get; set; }
    public float? TopP { get; set; }
    public long? Seed { get; set; }

    /// <summary>One stop sequence or several.</summary>
    [JsonConverter(typeof(StopSequencesConverter))]
    public List<string>? Stop { get; set; }

    public bool Stream { get; set; }
    public StreamOptions? StreamOptions { get; set; }
}

public sealed class StreamOptions
{
    public bool IncludeUsage { get; set; }
}

/// <summary>A chat message: its content is a string or an array of parts, of which only text parts are read.</summary>
public sealed class RequestMessage
{
    public string? Role { get; set; }
    public JsonElement Content { get; set; }
}

public sealed class ChatCompletion
{
    public required string Id { get; init; }
    public string Object => "chat.completion";
    public required long Created { get; init; }
    public required string Model { get; init; }
    public required List<Choice> Choices { get; init; }
    public Usage? Usage { get; init; }
}

public sealed class ChatCompletionChunk
{
    public required string Id { get; init; }
    public string Object => "chat.completion.chunk";
    public required long Created { get; init; }
    public required string Model { get; init; }
    public required List<Choice> Choices { get; init; }
    public Usage? Usage { get; init; }
}

public sealed class Choice
{
    public int Index { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ResponseMessage? Message { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ResponseMessage? Delta { get; init; }

    public string? FinishReason { get; init; }
}

public sealed class ResponseMessage
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Role { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Content { get; init; }
}

public sealed class Usage
{
    public int PromptTokens { get; init; }
    public int CompletionTokens { get; init; }
    public int TotalTokens { get; init; }
}

public sealed class ModelList
{
    public string Object => "list";
    public required List<ModelCard> Data { get; init; }
}

public sealed class ModelCard
{
    public required string Id { get; init; }
    public string Object => "model";
    public long Created { get; init; }
    public string OwnedBy => "caldera";
}

/// <summary>OpenAI's error body: <c>{"error": {"message", "type", "param", "code"}}</c>.</summary>
public sealed class ErrorResponse
{
    public required ErrorBody Error { get; init; }
}

public sealed class ErrorBody
{
    public required string Message { get; init; }
    public string Type { get; init; } = "invalid_request_error";
    public string? Param { get; init; }
    public string? Code { get; init; }
}

/// <summary>Reads <c>"stop": "x"</c> and <c>"stop": ["x", "y"]</c> alike.</summary>
public sealed class StopSequencesConverter : JsonConverter<List<string>>
{
    public override List<string>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String) return [reader.GetString()!];
        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException("stop must be a string or an array of strings");
        var stops = new List<string>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            stops.Add(reader.TokenType == JsonTokenType.String ? reader.GetString()! : throw new JsonException("stop must be a string or an array of strings"));
        return stops;
    }

    public override void Write(Utf8JsonWriter writer, List<string> value, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        foreach (string stop in value) writer.WriteStringValue(stop);
        writer.WriteEndArray();
    }
}

/// <summary>Source-generated serialization of every type above (no reflection: the server publishes as NativeAOT).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ChatCompletionRequest))]
[JsonSerializable(typeof(ChatCompletion))]
[JsonSerializable(typeof(ChatCompletionChunk))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(ErrorResponse))]
public sealed partial class OpenAIJsonContext : JsonSerializerContext;
