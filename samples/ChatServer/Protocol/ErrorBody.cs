namespace ChatServer;

public sealed class ErrorBody
{
    public required string Message { get; init; }
    public string Type { get; init; } = "invalid_request_error";
    public string? Param { get; init; }
    public string? Code { get; init; }
}
