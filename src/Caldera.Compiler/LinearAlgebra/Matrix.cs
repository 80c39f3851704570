using System.Numerics;

namespace Caldera.Compiler.LinearAlgebra;

/// <summary>
/// A dense row-major matrix over <see cref="float"/> or <see cref="double"/>: element (i, j) lives at
/// <c>Data[i·Cols + j]</c>. Deliberately plain: the kernels take spans with a leading dimension, and this type
/// only owns storage and shape.
/// </summary>
internal sealed class Matrix<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Matrix(int rows, int cols)
        : this(rows, cols, new T[CheckedLength(rows, cols)])
    {
    }

    /// <summary>Wraps <paramref name="data"/> (not copied) as a rows×cols row-major matrix.</summary>
    public Matrix(int rows, int cols, T[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.LongLength != CheckedLength(rows, cols))
        {
            throw new ArgumentException(
                $"data has {data.LongLength} elements but a {rows}×{cols} matrix needs {(long)rows * cols}.", nameof(data));
        }

        Rows = rows;
        Cols = cols;
        Data = data;
    }

    public int Rows { get; }

    public int Cols { get; }

    /// <summary>Row-major storage; its length is exactly Rows·Cols.</summary>
    public T[] Data { get; }

    public ref T this[int row, int col]
    {
        get
        {
            if ((uint)row >= (uint)Rows || (uint)col >= (uint)Cols)
            {
                throw new IndexOutOfRangeException($"({row}, {col}) is outside a {Rows}×{Cols} matrix.");
            }

            return ref Data[(row * Cols) + col];
        }
    }

    public Span<T> Row(int row)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)row, (uint)Rows, nameof(row));
        return Data.AsSpan(row * Cols, Cols);
    }

    public Span<T> AsSpan() => Data;

    public static Matrix<T> Identity(int n)
    {
        var identity = new Matrix<T>(n, n);
        for (int i = 0; i < n; i++)
        {
            identity.Data[(i * n) + i] = T.One;
        }

        return identity;
    }

    public Matrix<T> Clone() => new(Rows, Cols, (T[])Data.Clone());

    public Matrix<T> Transpose()
    {
        var transposed = new Matrix<T>(Cols, Rows);
        for (int i = 0; i < Rows; i++)
        {
            ReadOnlySpan<T> row = Data.AsSpan(i * Cols, Cols);
            for (int j = 0; j < row.Length; j++)
            {
                transposed.Data[(j * Rows) + i] = row[j];
            }
        }

        return transposed;
    }

    /// <summary>Copies rows [row, row+rows) and columns [col, col+cols) into a new matrix.</summary>
    public Matrix<T> Slice(int row, int rows, int col, int cols)
    {
        if (row < 0 || rows < 0 || col < 0 || cols < 0 || row + rows > Rows || col + cols > Cols)
        {
            throw new ArgumentOutOfRangeException(
                nameof(row), $"block ({row}+{rows}, {col}+{cols}) is outside a {Rows}×{Cols} matrix.");
        }

        var block = new Matrix<T>(rows, cols);
        for (int i = 0; i < rows; i++)
        {
            Data.AsSpan(((row + i) * Cols) + col, cols).CopyTo(block.Data.AsSpan(i * cols, cols));
        }

        return block;
    }

    /// <summary>Converts every element to <typeparamref name="TOther"/> (rounding to nearest when narrowing).</summary>
    public Matrix<TOther> Convert<TOther>() where TOther : unmanaged, IFloatingPointIeee754<TOther>
    {
        var converted = new Matrix<TOther>(Rows, Cols);
        for (int i = 0; i < Data.Length; i++)
        {
            converted.Data[i] = TOther.CreateTruncating(Data[i]);
        }

        return converted;
    }

    /// <summary>Frobenius norm ‖X‖_F, accumulated in double.</summary>
    public double FrobeniusNorm()
    {
        double sum = 0;
        foreach (T x in Data)
        {
            double v = double.CreateTruncating(x);
            sum += v * v;
        }

        return Math.Sqrt(sum);
    }

    private static int CheckedLength(int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        long length = (long)rows * cols;
        if (length > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(
                nameof(rows), $"a {rows}×{cols} matrix has {length} elements, more than one array can hold ({Array.MaxLength}).");
        }

        return (int)length;
    }
}
