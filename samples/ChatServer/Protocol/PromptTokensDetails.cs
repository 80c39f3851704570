namespace ChatServer;

public sealed class PromptTokensDetails
{
    public int CachedTokens { get; init; }
}
