namespace Caldera.Runtime.Formats;

/// <summary>
/// One GGUF metadata value. Scalars are held widened (<see cref="long"/> for signed integers, <see cref="ulong"/>
/// for unsigned ones, <see cref="double"/> for floats); an array holds a typed .NET array of its element type
/// (<c>float[]</c>, <c>string[]</c>, … and <c>GgufValue[]</c> for nested arrays), so a 32000-entry score table
/// is one allocation, not 32000 boxes.
/// </summary>
internal sealed class GgufValue
{
    public GgufValue(GgufValueType type, object data, GgufValueType elementType = default)
    {
        Type = type;
        Data = data;
        ElementType = elementType;
    }

    public GgufValueType Type { get; }

    /// <summary>The type of the elements when <see cref="Type"/> is <see cref="GgufValueType.Array"/>.</summary>
    public GgufValueType ElementType { get; }

    public object Data { get; }

    public string? AsString => Data as string;

    /// <summary>The value of an integer scalar, when it fits in a <see cref="long"/>.</summary>
    public bool TryGetInteger(out long value)
    {
        (bool ok, value) = Data switch
        {
            long l => (true, l),
            ulong u when u <= long.MaxValue => (true, (long)u),
            _ => (false, 0L),
        };
        return ok;
    }

    /// <summary>The value of a numeric scalar (float or integer) as a double.</summary>
    public bool TryGetReal(out double value)
    {
        (bool ok, value) = Data switch
        {
            double d => (true, d),
            long l => (true, l),
            ulong u => (true, u),
            _ => (false, 0.0),
        };
        return ok;
    }

    /// <summary>An array of numbers converted to F32 (scores are F32 in every known file).</summary>
    public float[]? ToFloatArray() => Data switch
    {
        float[] f => f,
        double[] d => Array.ConvertAll(d, x => (float)x),
        _ => null,
    };

    /// <summary>An array of integers as int32, or null when it is not an integer array or a value does not fit.</summary>
    public int[]? ToInt32Array() => Data switch
    {
        int[] i => i,
        uint[] u => Narrow(u, x => x),
        long[] l => Narrow(l, x => x),
        ulong[] u => Narrow(u, x => x > long.MaxValue ? long.MaxValue : (long)x),
        short[] s => Narrow(s, x => x),
        ushort[] u => Narrow(u, x => x),
        sbyte[] s => Narrow(s, x => x),
        byte[] b => Narrow(b, x => x),
        _ => null,
    };

    private static int[]? Narrow<T>(T[] values, Func<T, long> widen)
    {
        var result = new int[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            long v = widen(values[i]);
            if (v < int.MinValue || v > int.MaxValue) return null;
            result[i] = (int)v;
        }
        return result;
    }

    /// <summary>A short human description for errors and <c>caldera inspect</c>.</summary>
    public override string ToString() => Data switch
    {
        string s => $"\"{s}\"",
        Array a => $"array of {a.Length} {ElementType}",
        bool b => b ? "true" : "false",
        double d => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        _ => Convert.ToString(Data, System.Globalization.CultureInfo.InvariantCulture) ?? "",
    };
}
