using System.Text;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Tests.Formats;

/// <summary>An array metadata value for <see cref="GgufWriter"/>; <see cref="Values"/> is a <c>GgufArray[]</c> for nested arrays.</summary>
internal sealed record GgufArray(GgufValueType ElementType, Array Values);

/// <summary>A tensor for <see cref="GgufWriter"/>. <see cref="Shape"/> is outermost first; <see cref="Offset"/> overrides the packed offset.</summary>
internal sealed record GgufTensorEntry(string Name, long[] Shape, uint GgmlType, byte[] Data)
{
    public ulong? Offset { get; set; }
}

/// <summary>
/// Test helper (not product code): writes GGUF v1, v2 or v3 files from metadata and tensors written by
/// hand, so tests can build valid models in any version and craft corrupt or hostile ones. Written from
/// the GGUF spec independently of the reader.
/// </summary>
internal sealed class GgufWriter(int version = 3)
{
    public int Version { get; } = version;
    public int Alignment { get; set; } = GgufFile.DefaultAlignment;
    public List<(string Key, GgufValueType Type, object Value)> Metadata { get; } = [];
    public List<GgufTensorEntry> Tensors { get; } = [];

    public GgufWriter Set(string key, GgufValueType type, object value)
    {
        int i = Metadata.FindIndex(kv => kv.Key == key);
        if (i >= 0) Metadata[i] = (key, type, value);
        else Metadata.Add((key, type, value));
        return this;
    }

    public GgufWriter Remove(string key)
    {
        Metadata.RemoveAll(kv => kv.Key == key);
        return this;
    }

    public GgufTensorEntry Tensor(string name) => Tensors.Single(t => t.Name == name);

    /// <summary>A GGUF holding <paramref name="source"/>'s config and tensors, exactly as the llama.cpp converter lays them out.</summary>
    public static GgufWriter FromCheckpoint(ModelCheckpoint source, int version = 3)
    {
        var c = source.Config;
        var writer = new GgufWriter(version)
            .Set("general.architecture", GgufValueType.String, "llama")
            .Set("general.name", GgufValueType.String, "test")
            .Set("llama.context_length", GgufValueType.UInt32, (uint)c.ContextLength)
            .Set("llama.embedding_length", GgufValueType.UInt32, (uint)c.Dim)
            .Set("llama.feed_forward_length", GgufValueType.UInt32, (uint)c.HiddenDim)
            .Set("llama.block_count", GgufValueType.UInt32, (uint)c.LayerCount)
            .Set("llama.attention.head_count", GgufValueType.UInt32, (uint)c.HeadCount)
            .Set("llama.attention.head_count_kv", GgufValueType.UInt32, (uint)c.KvHeadCount)
            .Set("llama.rope.dimension_count", GgufValueType.UInt32, (uint)c.HeadDim)
            .Set("llama.rope.freq_base", GgufValueType.Float32, c.RopeTheta)
            .Set("llama.attention.layer_norm_rms_epsilon", GgufValueType.Float32, c.NormEpsilon);
        foreach (var (name, _) in TensorNames.Expected(c))
        {
            var t = source.Tensor(name);
            uint type = t.Type switch { TensorType.F32 => GgmlType.F32, TensorType.F16 => GgmlType.F16, _ => GgmlType.BF16 };
            writer.Tensors.Add(new GgufTensorEntry(name, t.Shape, type, TestTensors.Bytes(t)));
        }
        return writer;
    }

    public string Write(string path)
    {
        File.WriteAllBytes(path, ToBytes());
        return path;
    }

    public byte[] ToBytes()
    {
        if (Alignment != GgufFile.DefaultAlignment) Set("general.alignment", GgufValueType.UInt32, (uint)Alignment);
        using var stream = new MemoryStream();
        using var w = new BinaryWriter(stream);
        w.Write(GgufFile.Magic);
        w.Write((uint)Version);
        Size(w, (ulong)Tensors.Count);
        Size(w, (ulong)Metadata.Count);
        foreach (var (key, type, value) in Metadata)
        {
            String(w, key);
            w.Write((uint)type);
            Value(w, type, value);
        }

        var offsets = new ulong[Tensors.Count];
        ulong next = 0;
        for (int i = 0; i < Tensors.Count; i++)
        {
            var t = Tensors[i];
            offsets[i] = t.Offset ?? next;
            if (t.Offset is null) next = Align(offsets[i] + (ulong)t.Data.Length);
            String(w, t.Name);
            w.Write((uint)t.Shape.Length);
            foreach (long ne in t.Shape.Reverse()) Size(w, (ulong)ne); // GGUF lists dims innermost first
            w.Write(t.GgmlType);
            w.Write(offsets[i]);
        }

        long dataStart = (long)Align((ulong)stream.Position);
        for (int i = 0; i < Tensors.Count; i++)
        {
            long at = dataStart + (long)offsets[i];
            if (at > int.MaxValue) continue; // a hostile offset: the reader must reject it without data behind it
            if (at + Tensors[i].Data.Length > stream.Length) stream.SetLength(at + Tensors[i].Data.Length);
            stream.Position = at;
            w.Write(Tensors[i].Data);
        }
        if (stream.Length < dataStart) stream.SetLength(dataStart);
        return stream.ToArray();
    }

    private ulong Align(ulong x) => (x + (ulong)Alignment - 1) / (ulong)Alignment * (ulong)Alignment;

    private void Size(BinaryWriter w, ulong n)
    {
        if (Version == 1) w.Write(checked((uint)n));
        else w.Write(n);
    }

    private void String(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        Size(w, (ulong)bytes.Length);
        w.Write(bytes);
    }

    private void Value(BinaryWriter w, GgufValueType type, object value)
    {
        switch (type)
        {
            case GgufValueType.UInt8: w.Write((byte)value); break;
            case GgufValueType.Int8: w.Write((sbyte)value); break;
            case GgufValueType.UInt16: w.Write((ushort)value); break;
            case GgufValueType.Int16: w.Write((short)value); break;
            case GgufValueType.UInt32: w.Write((uint)value); break;
            case GgufValueType.Int32: w.Write((int)value); break;
            case GgufValueType.UInt64: w.Write((ulong)value); break;
            case GgufValueType.Int64: w.Write((long)value); break;
            case GgufValueType.Float32: w.Write((float)value); break;
            case GgufValueType.Float64: w.Write((double)value); break;
            case GgufValueType.Bool: w.Write((bool)value); break;
            case GgufValueType.String: String(w, (string)value); break;
            case GgufValueType.Array:
                var array = (GgufArray)value;
                w.Write((uint)array.ElementType);
                Size(w, (ulong)array.Values.Length);
                foreach (object element in array.Values) Value(w, array.ElementType, element);
                break;
            default: throw new ArgumentOutOfRangeException(nameof(type));
        }
    }
}
