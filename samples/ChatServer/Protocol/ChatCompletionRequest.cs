using System.Text.Json.Serialization;

namespace ChatServer;

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
