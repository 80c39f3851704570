namespace Caldera.Runtime.Tokenization;

/// <summary>Who speaks a turn of a chat.</summary>
public enum ChatRole
{
    System,
    User,
    Assistant,
}

/// <summary>One turn of a chat: its speaker and its text.</summary>
public sealed record ChatMessage(ChatRole Role, string Content);
