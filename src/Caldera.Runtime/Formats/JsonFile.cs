using System.Text.Json;

namespace Caldera.Runtime.Formats;

/// <summary>Parses the JSON parts of a checkpoint, turning malformed or oversized JSON into a <see cref="ModelFormatException"/>.</summary>
internal static class JsonFile
{
    /// <summary>Reads and parses <paramref name="path"/>, refusing files over <paramref name="maxBytes"/> before reading them.</summary>
    public static JsonDocument Read(string path, long maxBytes)
    {
        byte[] bytes;
        try
        {
            long length = new FileInfo(path).Length;
            if (length > maxBytes)
                throw new ModelFormatException(path, $"is {length} bytes; a JSON file this large is not a model config (limit {maxBytes})");
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(path, $"cannot read the file ({e.Message})", e);
        }
        return Parse(path, bytes, "the file");
    }

    public static JsonDocument Parse(string path, byte[] utf8, string what)
    {
        // The parser accepts invalid UTF-8 inside strings and fails only when one is read; say so here instead.
        if (!System.Text.Unicode.Utf8.IsValid(utf8))
            throw new ModelFormatException(path, $"{what} is not valid UTF-8 (first bad byte at offset {FirstInvalidByte(utf8)}); the file is corrupt");
        try
        {
            var document = JsonDocument.Parse(utf8);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                var kind = document.RootElement.ValueKind;
                document.Dispose();
                throw new ModelFormatException(path, $"{what} is a JSON {kind}, expected an object");
            }
            return document;
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"{what} is not valid JSON ({e.Message})", e);
        }
    }

    private static int FirstInvalidByte(byte[] utf8)
    {
        System.Text.Unicode.Utf8.ToUtf16(utf8, new char[utf8.Length], out int valid, out _, replaceInvalidSequences: false);
        return valid;
    }
}
