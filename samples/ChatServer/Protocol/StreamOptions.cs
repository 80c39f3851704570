namespace ChatServer;

public sealed class StreamOptions
{
    public bool IncludeUsage { get; set; }
}
