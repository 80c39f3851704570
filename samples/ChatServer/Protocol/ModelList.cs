namespace ChatServer;

public sealed class ModelList
{
    public string Object => "list";
    public required List<ModelCard> Data { get; init; }
}
