using System.Buffers;
using System.Text.Json;
using Caldera.Runtime.Formats;

namespace Caldera.Runtime.Tokenization;

/// <summary>
/// An <see cref="EmbeddedVocabulary"/> as JSON, so a GGUF checkpoint's vocabulary can travel inside a compressed
/// model: {"model", "tokens", "scores", "token_types", "merges", "bos_id", "eos_id", "unknown_id", "pre_tokenizer"},
/// absent parts as null. Written with <see cref="Utf8JsonWriter"/> in a fixed order (identical vocabularies give
/// identical bytes) and read with <see cref="JsonDocument"/> (no reflection).
/// </summary>
internal static class EmbeddedVocabularyJson
{
    public static byte[] Serialize(EmbeddedVocabulary vocabulary)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        var buffer = new ArrayBufferWriter<byte>();
        using (var j = new Utf8JsonWriter(buffer))
        {
            j.WriteStartObject();
            j.WriteString("model", vocabulary.Model);
            Strings(j, "tokens", vocabulary.Tokens);
            if (vocabulary.Scores is { } scores)
            {
                j.WriteStartArray("scores");
                foreach (float s in scores) j.WriteNumberValue(s);
                j.WriteEndArray();
            }
            else j.WriteNull("scores");
            if (vocabulary.TokenTypes is { } types)
            {
                j.WriteStartArray("token_types");
                foreach (int t in types) j.WriteNumberValue(t);
                j.WriteEndArray();
            }
            else j.WriteNull("token_types");
            Strings(j, "merges", vocabulary.Merges);
            j.WriteNumber("bos_id", vocabulary.BosId);
            j.WriteNumber("eos_id", vocabulary.EosId);
            if (vocabulary.UnknownId is { } unknown) j.WriteNumber("unknown_id", unknown);
            else j.WriteNull("unknown_id");
            if (vocabulary.PreTokenizer is { } pre) j.WriteString("pre_tokenizer", pre);
            else j.WriteNull("pre_tokenizer");
            j.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Parses <paramref name="json"/>; <paramref name="path"/> names its container in errors.</summary>
    public static EmbeddedVocabulary Parse(ReadOnlySpan<byte> json, string path)
    {
        using var document = JsonFile.Parse(path, json.ToArray(), "the embedded vocabulary");
        var s = new JsonSettings(path, document.RootElement, "tokenizer.vocabulary.");
        return new EmbeddedVocabulary(
            s.RequireString("model"),
            s.Strings("tokens") ?? throw s.Missing("tokens"),
            Floats(s, "scores"),
            Ints(s, "token_types"),
            s.Strings("merges"),
            s.RequireInt32("bos_id"),
            s.RequireInt32("eos_id"),
            s.Int32("unknown_id"),
            s.String("pre_tokenizer"));
    }

    private static void Strings(Utf8JsonWriter j, string name, string[]? values)
    {
        if (values is null)
        {
            j.WriteNull(name);
            return;
        }
        j.WriteStartArray(name);
        foreach (string v in values) j.WriteStringValue(v);
        j.WriteEndArray();
    }

    private static float[]? Floats(JsonSettings s, string name)
    {
        if (!s.Has(name)) return null;
        var items = s.RequireArray(name);
        var values = new float[items.Length];
        for (int i = 0; i < items.Length; i++)
            if (items[i].ValueKind != JsonValueKind.Number || !items[i].TryGetSingle(out values[i]) || !float.IsFinite(values[i]))
                throw s.Error(name, $"entry {i} is not a finite number");
        return values;
    }

    private static int[]? Ints(JsonSettings s, string name)
    {
        if (!s.Has(name)) return null;
        var items = s.RequireArray(name);
        var values = new int[items.Length];
        for (int i = 0; i < items.Length; i++)
            if (items[i].ValueKind != JsonValueKind.Number || !items[i].TryGetInt32(out values[i]))
                throw s.Error(name, $"entry {i} is not an int32");
        return values;
    }
}
