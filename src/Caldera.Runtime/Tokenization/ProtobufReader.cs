using System.Buffers.Binary;

namespace Caldera.Runtime.Tokenization;

/// <summary>
/// Reads protobuf wire format field by field: the counterpart of <see cref="ProtobufWriter"/>, for reading a SentencePiece
/// <c>ModelProto</c> without building an object per piece. Every length is checked against the bytes left, so a malformed
/// message ends in <see cref="FormatException"/>, never an out-of-range read or a large allocation.
/// </summary>
internal ref struct ProtobufReader(ReadOnlySpan<byte> bytes)
{
    public const int WireVarint = 0, WireFixed64 = 1, WireLengthDelimited = 2, WireFixed32 = 5;

    private readonly ReadOnlySpan<byte> _bytes = bytes;
    private int _position;

    public readonly bool AtEnd => _position >= _bytes.Length;

    /// <summary>The next field's number and wire type.</summary>
    public (int Field, int WireType) ReadTag()
    {
        ulong tag = ReadVarint();
        if (tag >> 3 is 0 or > int.MaxValue) throw new FormatException($"field number {tag >> 3} at byte {_position}");
        return ((int)(tag >> 3), (int)(tag & 7));
    }

    public ulong ReadVarint()
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_position >= _bytes.Length) throw new FormatException("a varint runs past the end");
            byte b = _bytes[_position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw new FormatException("a varint longer than 10 bytes");
    }

    /// <summary>An int32 field: protobuf writes negative values sign-extended to 64 bits.</summary>
    public int ReadInt32() => unchecked((int)ReadVarint());

    public bool ReadBool() => ReadVarint() != 0;

    public float ReadFloat() => BinaryPrimitives.ReadSingleLittleEndian(Take(4));

    public ReadOnlySpan<byte> ReadLengthDelimited()
    {
        ulong length = ReadVarint();
        if (length > (ulong)(_bytes.Length - _position)) throw new FormatException($"a {length}-byte field runs past the end");
        return Take((int)length);
    }

    /// <summary>Skips a field of <paramref name="wireType"/> that the caller does not read.</summary>
    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case WireVarint: ReadVarint(); break;
            case WireFixed64: Take(8); break;
            case WireLengthDelimited: ReadLengthDelimited(); break;
            case WireFixed32: Take(4); break;
            default: throw new FormatException($"wire type {wireType} at byte {_position}");
        }
    }

    /// <summary>Throws unless <paramref name="wireType"/> is the one the field must have.</summary>
    public static void Expect(int field, int wireType, int expected)
    {
        if (wireType != expected) throw new FormatException($"field {field} has wire type {wireType}, not {expected}");
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > _bytes.Length - _position) throw new FormatException($"a {count}-byte value runs past the end");
        var span = _bytes.Slice(_position, count);
        _position += count;
        return span;
    }
}
