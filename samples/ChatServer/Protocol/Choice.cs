using System.Text.Json.Serialization;

namespace ChatServer;

public sealed class Choice
{
    public int Index { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ResponseMessage? Message { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ResponseMessage? Delta { get; init; }

    public string? FinishReason { get; init; }
}
