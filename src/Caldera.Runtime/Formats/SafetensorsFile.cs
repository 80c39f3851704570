using System.Buffers.Binary;
using System.Text.Json;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Formats;

/// <summary>
/// The safetensors layout: a little-endian uint64 N, an N-byte JSON header
/// <c>{name: {dtype, shape, data_offsets: [begin, end)}, "__metadata__": {...}}</c>, then the data section,
/// to which the offsets are relative (so tensor i lives at bytes 8 + N + begin .. 8 + N + end).
/// </summary>
internal static class SafetensorsFile
{
    /// <summary>The format's own cap on the header; anything larger is corrupt or hostile.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private const string MetadataKey = "__metadata__";

    /// <summary>Reads and checks the header of <paramref name="file"/>: types, shapes against offsets, bounds, overlaps.</summary>
    public static List<SafetensorsTensor> ReadHeader(MappedFile file)
    {
        string path = file.Path;
        if (file.Length < 8)
            throw new ModelFormatException(path, $"is {file.Length} bytes, too short for the 8-byte safetensors header length (truncated)");
        ulong headerBytes = BinaryPrimitives.ReadUInt64LittleEndian(file.Span(0, 8, "the header length"));
        if (headerBytes > (ulong)(file.Length - 8))
            throw new ModelFormatException(path,
                $"the header length {headerBytes} runs past the end of the {file.Length}-byte file (truncated, or not a safetensors file)");
        if (headerBytes > MaxHeaderBytes)
            throw new ModelFormatException(path, $"the header length {headerBytes} exceeds the safetensors limit of {MaxHeaderBytes} bytes (corrupt file)");

        long dataStart = 8 + (long)headerBytes;
        long dataBytes = file.Length - dataStart;
        using var header = JsonFile.Parse(path, file.Span(8, (int)headerBytes, "the JSON header").ToArray(), "the safetensors header");

        var tensors = new List<SafetensorsTensor>();
        var extents = new List<TensorExtent>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in header.RootElement.EnumerateObject())
        {
            if (entry.Name == MetadataKey) continue;
            if (!seen.Add(entry.Name))
                throw ModelFormatException.ForTensor(path, entry.Name, "appears twice in the header (corrupt file)");
            var tensor = ReadEntry(path, entry.Name, entry.Value, dataStart, dataBytes);
            tensors.Add(tensor);
            extents.Add(new TensorExtent(tensor.Name, tensor.Offset, tensor.Offset + tensor.ByteLength));
        }
        TensorExtent.CheckDisjoint(path, extents);
        return tensors;
    }

    private static SafetensorsTensor ReadEntry(string path, string name, JsonElement entry, long dataStart, long dataBytes)
    {
        if (entry.ValueKind != JsonValueKind.Object)
            throw ModelFormatException.ForTensor(path, name, $"header entry is a JSON {entry.ValueKind}, expected {{dtype, shape, data_offsets}}");
        var type = ReadDType(path, name, entry);

        if (!entry.TryGetProperty("shape", out var shapeJson) || shapeJson.ValueKind != JsonValueKind.Array)
            throw ModelFormatException.ForTensor(path, name, "has no 'shape' array (corrupt header)");
        var shape = new long[shapeJson.GetArrayLength()];
        int d = 0;
        foreach (var dim in shapeJson.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out shape[d]) || shape[d] < 0)
                throw ModelFormatException.ForTensor(path, name, $"shape dim {d} is {dim.GetRawText()}, expected a non-negative integer");
            d++;
        }

        if (!entry.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array ||
            offsets.GetArrayLength() != 2 ||
            !TryGetOffset(offsets[0], out long begin) || !TryGetOffset(offsets[1], out long end))
            throw ModelFormatException.ForTensor(path, name, "needs 'data_offsets' as [begin, end] integers (corrupt header)");
        if (begin < 0 || end < begin || end > dataBytes)
            throw ModelFormatException.ForTensor(path, name,
                $"data_offsets [{begin}, {end}] lie outside the {dataBytes}-byte data section (truncated or corrupt file)");

        long bytes = TensorExtent.ByteSize(path, name, shape, type.ElementSize(), dataBytes);
        if (bytes != end - begin)
            throw ModelFormatException.ForTensor(path, name,
                $"shape [{string.Join(", ", shape)}] of {type} needs {bytes} bytes but data_offsets [{begin}, {end}] span {end - begin} (corrupt header)");
        return new SafetensorsTensor(name, type, shape, dataStart + begin, bytes);
    }

    private static TensorType ReadDType(string path, string name, JsonElement entry)
    {
        string? dtype = entry.TryGetProperty("dtype", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        return dtype switch
        {
            "F32" => TensorType.F32,
            "F16" => TensorType.F16,
            "BF16" => TensorType.BF16,
            null => throw ModelFormatException.ForTensor(path, name, "has no 'dtype' string (corrupt header)"),
            _ => throw ModelFormatException.ForTensor(path, name,
                $"dtype '{dtype}' is not supported; Caldera reads F32, F16 and BF16, so save the model in one of them (e.g. model.to(torch.bfloat16).save_pretrained(...))"),
        };
    }

    private static bool TryGetOffset(JsonElement element, out long value)
    {
        value = 0;
        return element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out value);
    }
}
