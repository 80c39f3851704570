namespace ChatServer;

public sealed class ModelCard
{
    public required string Id { get; init; }
    public string Object => "model";
    public long Created { get; init; }
    public string OwnedBy => "caldera";
}
