namespace Caldera.Runtime.Formats;

/// <summary>
/// GGUF's key/value metadata with typed lookups. A value of the wrong type or out of range is an error that
/// names the file and the key, never a silent default.
/// </summary>
internal sealed class GgufMetadata(string path, IReadOnlyDictionary<string, GgufValue> values)
{
    public IReadOnlyDictionary<string, GgufValue> Values => values;

    public bool Contains(string key) => values.ContainsKey(key);

    public string? String(string key) => Get(key) switch
    {
        null => null,
        { AsString: { } s } => s,
        var v => throw WrongType(key, v, "a string"),
    };

    public string RequireString(string key) => String(key) ?? throw Missing(key);

    public long? Integer(string key) => Get(key) switch
    {
        null => null,
        var v when v.TryGetInteger(out long l) => l,
        var v => throw WrongType(key, v, "an integer"),
    };

    /// <summary>An integer setting that must fit in an int32 (every size in a Llama config does).</summary>
    public int? Int32(string key) => Integer(key) switch
    {
        null => null,
        >= int.MinValue and <= int.MaxValue and var l => (int)l,
        var l => throw ModelFormatException.ForSetting(path, key, $"{l} is out of range (corrupt header?)"),
    };

    public int RequireInt32(string key) => Int32(key) ?? throw Missing(key);

    public double? Real(string key) => Get(key) switch
    {
        null => null,
        var v when v.TryGetReal(out double d) => d,
        var v => throw WrongType(key, v, "a number"),
    };

    public string[]? Strings(string key) => Get(key) switch
    {
        null => null,
        { Data: string[] s } => s,
        var v => throw WrongType(key, v, "an array of strings"),
    };

    public float[]? Floats(string key) => Get(key) switch
    {
        null => null,
        var v when v.ToFloatArray() is { } f => f,
        var v => throw WrongType(key, v, "an array of floats"),
    };

    public int[]? Int32s(string key) => Get(key) switch
    {
        null => null,
        var v when v.ToInt32Array() is { } i => i,
        var v => throw WrongType(key, v, "an array of int32 values"),
    };

    private GgufValue? Get(string key) => values.GetValueOrDefault(key);

    public ModelFormatException Missing(string key) =>
        ModelFormatException.ForSetting(path, key, "is missing; the GGUF was not written by a Llama converter (re-export it with llama.cpp's convert_hf_to_gguf.py)");

    private ModelFormatException WrongType(string key, GgufValue value, string expected) =>
        ModelFormatException.ForSetting(path, key, $"is a GGUF {value.Type} ({value}), expected {expected}");
}
