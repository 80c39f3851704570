namespace Caldera.Compiler.Quantizers;

/// <summary>Shape and value checks shared by the matrix quantizers (64-bit arithmetic before any allocation).</summary>
internal static class MatrixArguments
{
    public static void RequireShape(int length, int rows, int columns, string name)
    {
        if (rows <= 0 || columns <= 0)
            throw new ArgumentOutOfRangeException(name, $"a {rows}×{columns} matrix is empty or negative; both dimensions must be positive.");
        if ((long)rows * columns != length)
            throw new ArgumentException($"{name} has {length} values but {rows}×{columns} needs {(long)rows * columns}.", name);
    }

    /// <summary>RMS = √(Σw²/count), accumulated per row in double; throws naming the first NaN/Inf entry.</summary>
    public static double RootMeanSquare(ReadOnlySpan<float> w, int columns, string name)
    {
        double sum = 0;
        for (int start = 0; start < w.Length; start += columns)
            sum += System.Numerics.Tensors.TensorPrimitives.SumOfSquares(w.Slice(start, columns));
        if (!double.IsFinite(sum))
        {
            for (int i = 0; i < w.Length; i++)
                if (!float.IsFinite(w[i]))
                    throw new ArgumentException($"{name}[row {i / columns}, column {i % columns}] is {w[i]}; quantization needs finite weights.", name);
            throw new ArgumentException($"{name}: the sum of squares overflows; the weights are too large to scale.", name);
        }
        return Math.Sqrt(sum / w.Length);
    }
}
