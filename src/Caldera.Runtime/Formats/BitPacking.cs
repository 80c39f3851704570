namespace Caldera.Runtime.Formats;

/// <summary>
/// b-bit unsigned values packed LSB-first into bytes (value i occupies bits [i·b, i·b + b) of the stream), for
/// the signs of SU/SV (b = 1, set bit ⇔ −1) and uniform codes of Q (b = 2..8), so the file costs what the
/// bits-per-weight figures claim.
/// </summary>
internal static class BitPacking
{
    public static long PackedLength(long count, int bits) => (count * bits + 7) / 8;

    public static byte[] Pack(ReadOnlySpan<ushort> values, int bits)
    {
        var packed = new byte[PackedLength(values.Length, bits)];
        long bit = 0;
        foreach (ushort v in values)
        {
            for (int b = 0; b < bits; b++, bit++)
                if ((v >> b & 1) != 0) packed[bit >> 3] |= (byte)(1 << (int)(bit & 7));
        }
        return packed;
    }

    public static ushort[] Unpack(ReadOnlySpan<byte> packed, int count, int bits)
    {
        var values = new ushort[count];
        long bit = 0;
        for (int i = 0; i < count; i++)
        {
            int v = 0;
            for (int b = 0; b < bits; b++, bit++) v |= (packed[(int)(bit >> 3)] >> (int)(bit & 7) & 1) << b;
            values[i] = (ushort)v;
        }
        return values;
    }

    public static byte[] PackSigns(ReadOnlySpan<float> signs)
    {
        var bits = new ushort[signs.Length];
        for (int i = 0; i < signs.Length; i++) bits[i] = signs[i] < 0 ? (ushort)1 : (ushort)0;
        return Pack(bits, 1);
    }

    public static float[] UnpackSigns(ReadOnlySpan<byte> packed, int count)
    {
        var bits = Unpack(packed, count, 1);
        var signs = new float[count];
        for (int i = 0; i < count; i++) signs[i] = bits[i] == 0 ? 1f : -1f;
        return signs;
    }
}
