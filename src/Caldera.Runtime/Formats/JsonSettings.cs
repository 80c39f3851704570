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
        { ValueKind: JsonValueKind.Number } v when v.TryGetDouble(out double d) && double.IsFinite(d) => d,
        { ValueKind: JsonValueKind.Number } v => throw Error(name, $"{Shorten(v.GetRawText())} is not a finite double"),
        var v => throw WrongKind(name, v.Value, "a number"),
    };

    public double RequireReal(string name) => Real(name) ?? throw Missing(name);

    public long? Int64(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } v when v.TryGetInt64(out long i) => i,
        { ValueKind: JsonValueKind.Number } v => throw Error(name, $"{Shorten(v.GetRawText())} is not an integer in the int64 range"),
        var v => throw WrongKind(name, v.Value, "an integer"),
    };

    public long RequireInt64(string name) => Int64(name) ?? throw Missing(name);

    public ulong RequireUInt64(string name) => Get(name) switch
    {
        null => throw Missing(name),
        { ValueKind: JsonValueKind.Number } v when v.TryGetUInt64(out ulong i) => i,
        { ValueKind: JsonValueKind.Number } v => throw Error(name, $"{Shorten(v.GetRawText())} is not an integer in the uint64 range"),
        var v => throw WrongKind(name, v.Value, "an integer"),
    };

    /// <summary>A finite float (a NaN or infinite scale would poison every output).</summary>
    public float RequireSingle(string name)
    {
        double d = RequireReal(name);
        float f = (float)d;
        return float.IsFinite(f) ? f : throw Error(name, $"{d} is outside the float range");
    }

    public bool RequireBool(string name) => Bool(name) ?? throw Missing(name);

    public string RequireString(string name) => String(name) ?? throw Missing(name);

    public JsonSettings RequireObject(string name) => Object(name) ?? throw Missing(name);

    /// <summary>The elements of an array (each element named <c>name[i]</c> in errors).</summary>
    public JsonElement[] RequireArray(string name) => Get(name) switch
    {
        null => throw Missing(name),
        { ValueKind: JsonValueKind.Array } v => v.EnumerateArray().ToArray(),
        var v => throw WrongKind(name, v.Value, "an array"),
    };

    /// <summary>The members of object <paramref name="name"/> when their names are data (a vocabulary: token → id).</summary>
    public JsonElement.ObjectEnumerator RequireMembers(string name) => Get(name) switch
    {
        null => throw Missing(name),
        { ValueKind: JsonValueKind.Object } v => v.EnumerateObject(),
        var v => throw WrongKind(name, v.Value, "an object"),
    };

    /// <summary>Element <paramref name="index"/> of array <paramref name="name"/> as an object.</summary>
    public JsonSettings Item(string name, int index, JsonElement element) => element.ValueKind == JsonValueKind.Object
        ? new JsonSettings(path, element, $"{prefix}{name}[{index}].")
        : throw WrongKind($"{name}[{index}]", element, "an object");

    /// <summary>A non-empty array of non-negative int64s (a tensor shape).</summary>
    public long[] RequireShape(string name)
    {
        var items = RequireArray(name);
        var shape = new long[items.Length];
        for (int i = 0; i < items.Length; i++)
        {
            if (items[i].ValueKind != JsonValueKind.Number || !items[i].TryGetInt64(out shape[i]) || shape[i] < 0)
                throw Error(name, $"entry {i} ({Shorten(items[i].GetRawText())}) is not a non-negative integer");
        }
        return shape;
    }

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

    /// <summary>The kind of <paramref name="name"/>'s value, <see cref="JsonValueKind.Undefined"/> when it is absent or null.</summary>
    public JsonValueKind KindOf(string name) => Get(name)?.ValueKind ?? JsonValueKind.Undefined;

    /// <summary>Whether <paramref name="name"/> is present and not null.</summary>
    public bool Has(string name) => Get(name) is not null;

    /// <summary>The full name of setting <paramref name="name"/> as errors print it (e.g. <c>matrices[3].q.codes</c>).</summary>
    public string FullName(string name) => prefix + name;

    public ModelFormatException Error(string name, string problem) => ModelFormatException.ForSetting(path, prefix + name, problem);

    public ModelFormatException Missing(string name) => Error(name, "is missing");

    private JsonElement? Get(string name) =>
        settings.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    private ModelFormatException WrongKind(string name, JsonElement value, string expected) =>
        Error(name, $"is {value.ValueKind.ToString().ToLowerInvariant()} {Shorten(value.GetRawText())}, expected {expected}");

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
