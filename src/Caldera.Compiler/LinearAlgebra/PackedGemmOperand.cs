using System.Numerics;

namespace Caldera.Compiler.LinearAlgebra;

/// <summary>
/// The right operand op(B) (k×n) of a GEMM, packed once into the strips the register tile reads, so that products
/// with many left operands skip re-packing it: <see cref="Gemm.Pack{T}(Op, Matrix{T}, int)"/> builds it and
/// <see cref="Gemm.Multiply{T}(Op, Matrix{T}, PackedGemmOperand{T}, int)"/> uses it, bitwise as the unpacked call.
/// </summary>
/// <remarks>
/// Worth it where the packing costs as much as the multiply: a skinny m×k left operand (m ≈ 64) against a large
/// k×n right one packs k·n elements for 2·m·k·n flops. Holds k·⌈n/NR⌉·NR elements (NR = 32 floats with AVX-512),
/// as much as the operand itself.
/// </remarks>
internal sealed class PackedGemmOperand<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    internal PackedGemmOperand(GemmKernelKind kind, int rows, int cols, T[] data)
    {
        Kind = kind;
        Rows = rows;
        Cols = cols;
        Data = data;
    }

    /// <summary>k, the rows of op(B) (the inner dimension of the product).</summary>
    public int Rows { get; }

    /// <summary>n, the columns of op(B) and of the product.</summary>
    public int Cols { get; }

    /// <summary>The register tile the strips are laid out for; the multiply runs the same one.</summary>
    internal GemmKernelKind Kind { get; }

    internal T[] Data { get; }

    /// <summary>Element (<paramref name="row"/>, <paramref name="col"/>) of op(B), read where the packing put it (not range-checked beyond the array's own check).</summary>
    public T this[int row, int col] => Data[GemmDriver<T>.PackedOffset(Kind, Rows, Cols, row, col)];

    /// <summary>Row <paramref name="row"/> of op(B) (<see cref="Cols"/> elements) copied out of the packed strips.</summary>
    public unsafe void CopyRow(int row, Span<T> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, Rows);
        if (destination.Length < Cols) throw new ArgumentException($"a row has {Cols} elements; the destination holds {destination.Length}.", nameof(destination));
        fixed (T* packed = Data) GemmDriver<T>.UnpackRow(Kind, Rows, Cols, packed, row, destination);
    }
}
