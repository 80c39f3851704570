using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Caldera.Runtime.Formats;

/// <summary>
/// Reads GGUF's header section front to back. GGUF v1 writes counts, string lengths, array lengths and
/// dims as uint32; v2 and v3 as uint64. A hostile file can claim any count, so every count and length is
/// checked, in 64-bit arithmetic, against the bytes left in the file before anything is allocated: a
/// count of n items that each need at least k bytes is impossible when n > remaining / k.
/// </summary>
internal sealed class GgufCursor(MappedFile file)
{
    /// <summary>Nested arrays are legal GGUF but no model uses more than one level; the cap bounds recursion.</summary>
    private const int MaxArrayDepth = 8;

    /// <summary>The GGUF version, which sets the width of counts; 1 until the version field has been read.</summary>
    public int Version { get; set; } = 1;

    public long Position { get; private set; }
    public long Remaining => file.Length - Position;
    private string Path => file.Path;
    private bool WideCounts => Version >= 2;
    private int CountSize => WideCounts ? 8 : 4;

    public ReadOnlySpan<byte> Take(long count, string what)
    {
        if (count > Remaining)
            throw new ModelFormatException(Path,
                $"{what} needs {count} bytes at byte {Position} but the file ends after {Remaining} more (truncated or corrupt)");
        if (count > int.MaxValue)
            throw new ModelFormatException(Path, $"{what} at byte {Position} claims {count} bytes; no GGUF header field is 2 GiB or more (corrupt file)");
        var span = file.Span(Position, checked((int)count), what);
        Position += count;
        return span;
    }

    public uint ReadUInt32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, what));
    public ulong ReadUInt64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, what));

    /// <summary>A count or dim in the version's width (uint32 in v1, uint64 later).</summary>
    public ulong ReadSize(string what) => WideCounts ? ReadUInt64(what) : ReadUInt32(what);

    /// <summary>
    /// A count of items that each occupy at least <paramref name="minItemBytes"/> bytes of the file, checked
    /// against what is left so that a claim of 2^60 tensors fails here rather than in an allocation.
    /// </summary>
    public int ReadCount(string what, long minItemBytes)
    {
        long at = Position;
        ulong count = ReadSize(what);
        if (count > (ulong)(Remaining / minItemBytes) || count > int.MaxValue)
            throw new ModelFormatException(Path,
                $"{what} at byte {at} is {count}, but each needs at least {minItemBytes} bytes and only {Remaining} bytes remain (corrupt or hostile file)");
        return (int)count;
    }

    /// <summary>
    /// A length-prefixed UTF-8 string. <paramref name="element"/> ≥ 0 names an array element in errors; the
    /// description is formatted only on failure, since a vocabulary holds tens of thousands of strings.
    /// </summary>
    public string ReadString(string what, int element = -1)
    {
        long at = Position;
        ulong length = ReadSize(what);
        if (length > (ulong)Remaining)
            throw new ModelFormatException(Path,
                $"{what}{(element >= 0 ? $" element {element}" : "")} at byte {at} claims {length} bytes but only {Remaining} bytes remain (corrupt or hostile file)");
        return Encoding.UTF8.GetString(Take((long)length, what));
    }

    public GgufValue ReadValue(string key) => ReadValue(key, ReadValueType(key), depth: 0);

    private GgufValueType ReadValueType(string key)
    {
        uint tag = ReadUInt32($"metadata '{key}' type");
        if (tag > (uint)GgufValueType.Float64)
            throw ModelFormatException.ForSetting(Path, key, $"unknown GGUF value type {tag} (corrupt file, or a GGUF newer than version 3)");
        return (GgufValueType)tag;
    }

    private GgufValue ReadValue(string key, GgufValueType type, int depth)
    {
        string what = $"metadata '{key}'";
        return type switch
        {
            GgufValueType.UInt8 => new(type, (ulong)Take(1, what)[0]),
            GgufValueType.Int8 => new(type, (long)(sbyte)Take(1, what)[0]),
            GgufValueType.UInt16 => new(type, (ulong)BinaryPrimitives.ReadUInt16LittleEndian(Take(2, what))),
            GgufValueType.Int16 => new(type, (long)BinaryPrimitives.ReadInt16LittleEndian(Take(2, what))),
            GgufValueType.UInt32 => new(type, (ulong)ReadUInt32(what)),
            GgufValueType.Int32 => new(type, (long)BinaryPrimitives.ReadInt32LittleEndian(Take(4, what))),
            GgufValueType.UInt64 => new(type, ReadUInt64(what)),
            GgufValueType.Int64 => new(type, BinaryPrimitives.ReadInt64LittleEndian(Take(8, what))),
            GgufValueType.Float32 => new(type, (double)BinaryPrimitives.ReadSingleLittleEndian(Take(4, what))),
            GgufValueType.Float64 => new(type, BinaryPrimitives.ReadDoubleLittleEndian(Take(8, what))),
            GgufValueType.Bool => new(type, Take(1, what)[0] != 0),
            GgufValueType.String => new(type, ReadString(what)),
            _ => ReadArray(key, depth),
        };
    }

    private GgufValue ReadArray(string key, int depth)
    {
        if (depth >= MaxArrayDepth)
            throw ModelFormatException.ForSetting(Path, key, $"arrays nested deeper than {MaxArrayDepth} levels (corrupt or hostile file)");
        var elementType = ReadValueType(key);
        string what = $"metadata '{key}' array length";
        object data = elementType switch
        {
            GgufValueType.UInt8 => Numbers<byte>(ReadCount(what, 1), key),
            GgufValueType.Int8 => Numbers<sbyte>(ReadCount(what, 1), key),
            GgufValueType.UInt16 => Numbers<ushort>(ReadCount(what, 2), key),
            GgufValueType.Int16 => Numbers<short>(ReadCount(what, 2), key),
            GgufValueType.UInt32 => Numbers<uint>(ReadCount(what, 4), key),
            GgufValueType.Int32 => Numbers<int>(ReadCount(what, 4), key),
            GgufValueType.Float32 => Numbers<float>(ReadCount(what, 4), key),
            GgufValueType.UInt64 => Numbers<ulong>(ReadCount(what, 8), key),
            GgufValueType.Int64 => Numbers<long>(ReadCount(what, 8), key),
            GgufValueType.Float64 => Numbers<double>(ReadCount(what, 8), key),
            GgufValueType.Bool => Array.ConvertAll(Numbers<byte>(ReadCount(what, 1), key), b => b != 0),
            GgufValueType.String => Strings(ReadCount(what, CountSize), key),
            _ => Arrays(ReadCount(what, 4 + CountSize), key, depth),
        };
        return new GgufValue(GgufValueType.Array, data, elementType);
    }

    // GGUF is little-endian, as is every platform .NET runs this library on, so elements are copied as is.
    private T[] Numbers<T>(int count, string key) where T : unmanaged =>
        MemoryMarshal.Cast<byte, T>(Take((long)count * Unsafe.SizeOf<T>(), $"metadata '{key}' elements")).ToArray();

    private string[] Strings(int count, string key)
    {
        var result = new string[count];
        string what = $"metadata '{key}'";
        for (int i = 0; i < count; i++) result[i] = ReadString(what, i);
        return result;
    }

    private GgufValue[] Arrays(int count, string key, int depth)
    {
        var result = new GgufValue[count];
        for (int i = 0; i < count; i++) result[i] = ReadArray(key, depth + 1);
        return result;
    }
}
