using System.Text.Json;
using System.Text.Json.Serialization;

namespace ChatServer;

/// <summary>Reads <c>"stop": "x"</c> and <c>"stop": ["x", "y"]</c> alike.</summary>
public sealed class StopSequencesConverter : JsonConverter<List<string>>
{
    public override List<string>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String) return [reader.GetString()!];
        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException("stop must be a string or an array of strings");
        var stops = new List<string>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            stops.Add(reader.TokenType == JsonTokenType.String ? reader.GetString()! : throw new JsonException("stop must be a string or an array of strings"));
        return stops;
    }

    public override void Write(Utf8JsonWriter writer, List<string> value, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        foreach (string stop in value) writer.WriteStringValue(stop);
        writer.WriteEndArray();
    }
}
