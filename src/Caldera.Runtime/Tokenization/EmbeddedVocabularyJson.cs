using System.Text.Json;
using Caldera.Runtime.Formats;

namespace Caldera.Runtime.Tokenization;

/// <summary>
/// An <see cref="EmbeddedVocabulary"/> as UTF-8 JSON, the bytes of a compressed model's
/// <c>TokenizerPayloadKind.EmbeddedVocabulary</c> payload:
/// <c>{"model": "llama", "tokens": [...], "scores": [...]|null, "token_types": [...]|null, "merges": [...]|null,
/// "bos": 1, "eos": 2, "unk": 0|null, "pre": "..."|null}</c>. Written and read without reflection (AOT-safe).
/// </summary>
public static class EmbeddedVocabularyJson
{
    public static byte[] Write(EmbeddedVocabulary v)
    {
        var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("model", v.Model);
            w.WriteStartArray("tokens");
            foreach (var t in v.Tokens) w.WriteStringValue(t);
            w.WriteEndArray();
            if (v.Scores is null) w.WriteNull("scores");
            else
            {
                w.WriteStartArray("scores");
                foreach (float s in v.Scores) w.WriteNumberValue(s);
                w.WriteEndArray();
            }
            if (v.TokenTypes is null) w.WriteNull("token_types");
            else
            {
                w.WriteStartArray("token_types");
                foreach (int t in v.TokenTypes) w.WriteNumberValue(t);
                w.WriteEndArray();
            }
            if (v.Merges is null) w.WriteNull("merges");
            else
            {
                w.WriteStartArray("merges");
                foreach (var m in v.Merges) w.WriteStringValue(m);
                w.WriteEndArray();
            }
            w.WriteNumber("bos", v.BosId);
            w.WriteNumber("eos", v.EosId);
            if (v.UnknownId is { } unk) w.WriteNumber("unk", unk);
            else w.WriteNull("unk");
            if (v.PreTokenizer is null) w.WriteNull("pre");
            else w.WriteString("pre", v.PreTokenizer);
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    /// <summary>Parses <see cref="Write"/>'s output; <paramref name="path"/> names the model in errors.</summary>
    public static EmbeddedVocabulary Read(ReadOnlyMemory<byte> utf8, string path)
    {
        try
        {
            using var document = JsonDocument.Parse(utf8);
            var root = document.RootElement;
            string[]? Strings(string name) => root.GetProperty(name).ValueKind == JsonValueKind.Null ? null
                : [.. root.GetProperty(name).EnumerateArray().Select(e => e.GetString() ?? throw new FormatException($"{name} holds a null"))];
            var scores = root.GetProperty("scores");
            var types = root.GetProperty("token_types");
            var unk = root.GetProperty("unk");
            var pre = root.GetProperty("pre");
            return new EmbeddedVocabulary(
                root.GetProperty("model").GetString() ?? throw new FormatException("model is null"),
                Strings("tokens")!,
                scores.ValueKind == JsonValueKind.Null ? null : [.. scores.EnumerateArray().Select(e => e.GetSingle())],
                types.ValueKind == JsonValueKind.Null ? null : [.. types.EnumerateArray().Select(e => e.GetInt32())],
                Strings("merges"),
                root.GetProperty("bos").GetInt32(),
                root.GetProperty("eos").GetInt32(),
                unk.ValueKind == JsonValueKind.Null ? null : unk.GetInt32(),
                pre.ValueKind == JsonValueKind.Null ? null : pre.GetString());
        }
        catch (Exception e) when (e is JsonException or FormatException or KeyNotFoundException or InvalidOperationException)
        {
            throw new ModelFormatException(path, $"the embedded vocabulary is not readable ({e.Message}); recompress the model", e);
        }
    }
}
