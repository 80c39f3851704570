namespace Caldera.Runtime.Formats;

/// <summary>
/// The GGUF container: magic "GGUF", uint32 version, tensor count, metadata count, the metadata key/value
/// pairs, the tensor table, then the tensor data section starting at the next multiple of
/// <c>general.alignment</c> (default 32). This type reads the container only; <see cref="GgufReader"/>
/// turns it into a Llama model.
/// </summary>
internal sealed class GgufFile
{
    public const uint Magic = 0x46554747; // "GGUF" read as a little-endian uint32
    public const int DefaultAlignment = 32;

    /// <summary>ggml's GGML_MAX_DIMS: no tensor has more.</summary>
    private const int MaxDims = 4;

    private GgufFile(int version, GgufMetadata metadata, IReadOnlyList<GgufTensorInfo> tensors, long alignment, long dataOffset)
    {
        Version = version;
        Metadata = metadata;
        Tensors = tensors;
        Alignment = alignment;
        DataOffset = dataOffset;
    }

    public int Version { get; }
    public GgufMetadata Metadata { get; }
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }
    public long Alignment { get; }

    /// <summary>Absolute file offset of the data section, to which every tensor offset is relative.</summary>
    public long DataOffset { get; }

    public static GgufFile Read(MappedFile file)
    {
        string path = file.Path;
        var cursor = new GgufCursor(file);
        if (cursor.ReadUInt32("the GGUF magic") != Magic)
            throw new ModelFormatException(path, "does not start with the GGUF magic bytes \"GGUF\"");
        uint version = cursor.ReadUInt32("the GGUF version");
        if (version is < 1 or > 3)
        {
            uint swapped = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(version);
            throw new ModelFormatException(path, swapped is >= 1 and <= 3
                ? "is a big-endian GGUF; only little-endian GGUF is supported (convert it on a little-endian machine)"
                : $"GGUF version {version} is not supported; Caldera reads versions 1, 2 and 3");
        }

        cursor.Version = (int)version;
        int countSize = version >= 2 ? 8 : 4;
        // The smallest possible tensor entry: empty name, one dim, type, offset. The smallest key/value: an
        // empty key, a type tag and a one-byte value.
        int tensorCount = cursor.ReadCount("the tensor count", countSize + 4 + countSize + 4 + 8);
        int kvCount = cursor.ReadCount("the metadata key/value count", countSize + 4 + 1);

        var values = new Dictionary<string, GgufValue>(StringComparer.Ordinal);
        for (int i = 0; i < kvCount; i++)
        {
            string key = cursor.ReadString($"metadata key {i}");
            if (!values.TryAdd(key, cursor.ReadValue(key)))
                throw ModelFormatException.ForSetting(path, key, "appears twice in the metadata (corrupt file)");
        }
        var metadata = new GgufMetadata(path, values);

        long alignment = metadata.Integer("general.alignment") ?? DefaultAlignment;
        if (alignment <= 0 || alignment > 1 << 20 || (alignment & (alignment - 1)) != 0)
            throw ModelFormatException.ForSetting(path, "general.alignment", $"{alignment} is not a power of two up to 2^20");

        var tensors = new GgufTensorInfo[tensorCount];
        for (int i = 0; i < tensorCount; i++)
            tensors[i] = ReadTensorInfo(cursor, path, i, file.Length);

        long dataOffset = (cursor.Position + alignment - 1) / alignment * alignment;
        return new GgufFile((int)version, metadata, tensors, alignment, dataOffset);
    }

    private static GgufTensorInfo ReadTensorInfo(GgufCursor cursor, string path, int index, long fileLength)
    {
        string name = cursor.ReadString($"the name of tensor {index}");
        uint dimCount = cursor.ReadUInt32($"the dim count of tensor '{name}'");
        if (dimCount is 0 or > MaxDims)
            throw ModelFormatException.ForTensor(path, name, $"has {dimCount} dims; GGUF allows 1 to {MaxDims} (corrupt file)");
        var shape = new long[dimCount];
        for (int d = 0; d < dimCount; d++)
        {
            ulong ne = cursor.ReadSize($"dim {d} of tensor '{name}'");
            // No dim can exceed the file's length: even a one-byte element would not fit.
            if (ne == 0 || ne > (ulong)fileLength)
                throw ModelFormatException.ForTensor(path, name, $"dim {d} is {ne}, impossible for a {fileLength}-byte file (corrupt file)");
            shape[dimCount - 1 - d] = (long)ne;
        }
        uint type = cursor.ReadUInt32($"the type of tensor '{name}'");
        ulong offset = cursor.ReadUInt64($"the data offset of tensor '{name}'");
        return new GgufTensorInfo(name, shape, type, offset);
    }
}
