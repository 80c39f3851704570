using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Caldera.Runtime.Model;

namespace Caldera.Tests;

/// <summary>A tensor for <see cref="SafetensorsWriter"/>: stored bytes already in <see cref="Type"/>.</summary>
internal sealed record SafetensorsEntry(string Name, TensorType Type, long[] Shape, byte[] Data);

/// <summary>
/// Test helper (not product code): writes safetensors files, valid ones from tensors or hand-crafted ones
/// from a raw JSON header, following the format's spec (u64 LE header length, JSON header padded with
/// spaces to a multiple of 8, data section).
/// </summary>
internal static class SafetensorsWriter
{
    public static void Write(string path, IEnumerable<SafetensorsEntry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using var header = new MemoryStream();
        using var data = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is not null)
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata) json.WriteString(key, value);
                json.WriteEndObject();
            }
            foreach (var t in tensors)
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", DType(t.Type));
                json.WriteStartArray("shape");
                foreach (long d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(data.Length);
                json.WriteNumberValue(data.Length + t.Data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                data.Write(t.Data);
            }
            json.WriteEndObject();
        }
        WriteRaw(path, Encoding.UTF8.GetString(header.ToArray()), data.ToArray());
    }

    /// <summary>Writes <paramref name="headerJson"/> (padded to 8 bytes) and <paramref name="data"/>; <paramref name="headerLength"/> overrides the length field.</summary>
    public static void WriteRaw(string path, string headerJson, byte[] data, ulong? headerLength = null)
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        int padded = (header.Length + 7) / 8 * 8;
        using var file = File.Create(path);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, headerLength ?? (ulong)padded);
        file.Write(length);
        file.Write(header);
        for (int i = header.Length; i < padded; i++) file.WriteByte((byte)' ');
        file.Write(data);
    }

    public static string DType(TensorType type) => type switch
    {
        TensorType.F32 => "F32",
        TensorType.F16 => "F16",
        TensorType.BF16 => "BF16",
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };
}
