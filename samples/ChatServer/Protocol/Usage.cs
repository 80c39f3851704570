namespace ChatServer;

public sealed class Usage
{
    public int PromptTokens { get; init; }
    public int CompletionTokens { get; init; }
    public int TotalTokens { get; init; }

    /// <summary>Of the prompt tokens, those the model's kept caches already held (a conversation's earlier turns), as OpenAI reports prompt caching.</summary>
    public PromptTokensDetails? PromptTokensDetails { get; init; }
}
