using System.Text.Json;

namespace ChatServer;

/// <summary>A chat message: its content is a string or an array of parts, of which only text parts are read.</summary>
public sealed class RequestMessage
{
    public string? Role { get; set; }
    public JsonElement Content { get; set; }
}
