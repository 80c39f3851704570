using System.Text.Json.Serialization;

namespace ChatServer;

/// <summary>
/// Source-generated serialization of the subset of OpenAI's chat completions schema this server reads and writes, in
/// snake_case as on the wire (no reflection: the server publishes as NativeAOT).
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ChatCompletionRequest))]
[JsonSerializable(typeof(ChatCompletion))]
[JsonSerializable(typeof(ChatCompletionChunk))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(ErrorResponse))]
public sealed partial class OpenAIJsonContext : JsonSerializerContext;
