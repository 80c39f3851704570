namespace ChatServer;

/// <summary>OpenAI's error body: <c>{"error": {"message", "type", "param", "code"}}</c>.</summary>
public sealed class ErrorResponse
{
    public required ErrorBody Error { get; init; }
}
