namespace ChatServer;

public sealed class ChatCompletionChunk
{
    public required string Id { get; init; }
    public string Object => "chat.completion.chunk";
    public required long Created { get; init; }
    public required string Model { get; init; }
    public required List<Choice> Choices { get; init; }
    public Usage? Usage { get; init; }
}
