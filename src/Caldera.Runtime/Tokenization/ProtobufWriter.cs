using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Caldera.Runtime.Tokenization;

/// <summary>
/// The few protobuf wire-format writes needed to synthesize a SentencePiece <c>ModelProto</c>: varints,
/// fixed32 floats, and length-delimited strings and sub-messages. Each call writes one field as
/// <c>tag = (field &lt;&lt; 3) | wire type</c> followed by its payload.
/// </summary>
internal sealed class ProtobufWriter
{
    private const int WireVarint = 0, WireLengthDelimited = 2, WireFixed32 = 5;

    private readonly ArrayBufferWriter<byte> _buffer = new();

    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    public void WriteInt(int field, long value)
    {
        WriteTag(field, WireVarint);
        // Negative int32 values are sign-extended to 64 bits (10-byte varint), as protobuf specifies.
        WriteVarint(unchecked((ulong)value));
    }

    public void WriteBool(int field, bool value) => WriteInt(field, value ? 1 : 0);

    public void WriteFloat(int field, float value)
    {
        WriteTag(field, WireFixed32);
        BinaryPrimitives.WriteSingleLittleEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
    }

    public void WriteString(int field, string value) => WriteBytes(field, Encoding.UTF8.GetBytes(value));

    public void WriteMessage(int field, ProtobufWriter message) => WriteBytes(field, message.WrittenSpan);

    private void WriteBytes(int field, ReadOnlySpan<byte> bytes)
    {
        WriteTag(field, WireLengthDelimited);
        WriteVarint((ulong)bytes.Length);
        _buffer.Write(bytes);
    }

    private void WriteTag(int field, int wireType) => WriteVarint((ulong)((field << 3) | wireType));

    private void WriteVarint(ulong value)
    {
        var span = _buffer.GetSpan(10);
        int n = 0;
        while (value >= 0x80)
        {
            span[n++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[n++] = (byte)value;
        _buffer.Advance(n);
    }
}
