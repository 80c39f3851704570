using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Model;

/// <summary>
/// A named, typed, row-major tensor that points into memory owned by its <see cref="ModelCheckpoint"/>
/// (usually a memory-mapped file). Weights stay in their stored type; callers convert rows to F32 as
/// they need them. The memory may be unaligned (safetensors data follows a JSON header of any length).
/// </summary>
internal sealed unsafe class TensorView
{
    internal TensorView(string name, long[] shape, TensorType type, byte* data)
    {
        Name = name;
        Shape = shape;
        Type = type;
        Data = data;
        long count = 1;
        foreach (long d in shape) count *= d;
        ElementCount = count;
    }

    public string Name { get; }

    /// <summary>Dimensions, outermost first; a matrix is [rows = out, cols = in].</summary>
    public long[] Shape { get; }

    public TensorType Type { get; }
    public long ElementCount { get; }
    public long ByteLength => Type.ByteLength(Shape);
    internal byte* Data { get; }

    public int Rows => Shape.Length == 1 ? 1 : checked((int)Shape[0]);
    public int Columns => checked((int)Shape[^1]);

    /// <summary>The raw bytes of one row of a matrix (or of the whole vector) stored element by element.</summary>
    public ReadOnlySpan<byte> RowBytes(int row)
    {
        if (!Type.IsElementwise()) throw new InvalidOperationException($"{this}: a row of {Type} is not one run of bytes; read it with ReadRow");
        int rowBytes = Columns * Type.ElementSize();
        return new ReadOnlySpan<byte>(Data + (long)row * rowBytes, rowBytes);
    }

    /// <summary>Row <paramref name="row"/> converted (or, for the block types, decoded) to F32 into <paramref name="destination"/>.</summary>
    public void ReadRow(int row, Span<float> destination)
    {
        if (Type == TensorType.Int4Blocks)
        {
            long levelBytes = Int4Blocks.RowBytes(Columns);
            int scales = Int4Blocks.BlockCount(Columns);
            Int4Blocks.DecodeRow(new ReadOnlySpan<byte>(Data + row * levelBytes, (int)levelBytes),
                new ReadOnlySpan<ushort>(Data + Rows * levelBytes + (long)row * scales * sizeof(ushort), scales), destination[..Columns]);
            return;
        }
        if (Type != TensorType.Int6Blocks)
        {
            Convert(RowBytes(row), Type, destination[..Columns]);
            return;
        }
        long rowBytes = Int6Blocks.RowBytes(Columns);
        int blocks = Int6Blocks.BlockCount(Columns);
        Int6Blocks.DecodeRow(new ReadOnlySpan<byte>(Data + row * rowBytes, (int)rowBytes),
            new ReadOnlySpan<ushort>(Data + Rows * rowBytes + (long)row * blocks * sizeof(ushort), blocks), destination[..Columns]);
    }

    /// <summary>The whole tensor as a new F32 array (for small tensors, tests and the compiler).</summary>
    public float[] ToArray()
    {
        var result = new float[checked((int)ElementCount)];
        if (Type.IsElementwise()) Convert(new ReadOnlySpan<byte>(Data, checked((int)ByteLength)), Type, result);
        else
            for (int r = 0; r < Rows; r++) ReadRow(r, result.AsSpan(r * Columns, Columns));
        return result;
    }

    /// <summary>Converts stored elements of <paramref name="type"/> to F32.</summary>
    public static void Convert(ReadOnlySpan<byte> source, TensorType type, Span<float> destination)
    {
        switch (type)
        {
            case TensorType.F32:
                MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
                break;
            case TensorType.F16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source), destination);
                break;
            case TensorType.BF16:
                // bf16 is the top half of an f32: widen by shifting the bits left 16.
                var bits = MemoryMarshal.Cast<byte, ushort>(source);
                var wide = MemoryMarshal.Cast<float, uint>(destination);
                for (int i = 0; i < bits.Length; i++) wide[i] = (uint)bits[i] << 16;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, null);
        }
    }

    public override string ToString() => $"{Name} [{string.Join(", ", Shape)}] {Type}";
}
