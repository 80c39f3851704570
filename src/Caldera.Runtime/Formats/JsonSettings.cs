using System.Text.Json;

namespace Caldera.Runtime.Formats;

/// <summary>
/// Typed lookups in a JSON object of settings (config.json, or a nested object such as <c>rope_scaling</c>).
/// JSON <c>null</c> counts as absent; a value of the wrong kind is an error naming the file and the setting.
/// </summary>
internal readonly struct JsonSettings(string path, JsonElement settings, string prefix = "")
{
    public int? Int32(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } v when v.TryGetInt32(out int i) => i,
        { ValueKind: JsonValueKind.Number } v => throw Error(name, $"{v.GetRawText()} is not an integer in the int32 range"),
        var v => throw WrongKind(name, v.Value, "an integer"),
    };

    public int RequireInt32(string name) => Int32(name) ?? throw Missing(name);

    public double? Real(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } v => v.GetDouble(),
        var v => throw WrongKind(name, v.Value, "a number"),
    };

    public double RequireReal(string name) => Real(name) ?? throw Missing(name);

    public bool? Bool(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        var v => throw WrongKind(name, v.Value, "true or false"),
    };

    public string? String(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } v => v.GetString(),
        var v => throw WrongKind(name, v.Value, "a string"),
    };

    public string[]? Strings(string name)
    {
        if (Get(name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Array || v.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
            throw WrongKind(name, v, "an array of strings");
        return v.EnumerateArray().Select(e => e.GetString()!).ToArray();
    }

    public JsonSettings? Object(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Object } v => new JsonSettings(path, v, prefix + name + "."),
        var v => throw WrongKind(name, v.Value, "an object"),
    };

    public ModelFormatException Error(string name, string problem) => ModelFormatException.ForSetting(path, prefix + name, problem);

    public ModelFormatException Missing(string name) => Error(name, "is missing");

    private JsonElement? Get(string name) =>
        settings.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    private ModelFormatException WrongKind(string name, JsonElement value, string expected) =>
        Error(name, $"is {value.ValueKind.ToString().ToLowerInvariant()} {Shorten(value.GetRawText())}, expected {expected}");

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
