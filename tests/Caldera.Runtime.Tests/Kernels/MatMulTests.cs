using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Tests.Kernels;

public class MatMulTests
{
    public static TheoryData<string, string> TypesAndPaths() => MatVecTests.TypesAndPaths();

    [Theory]
    [MemberData(nameof(TypesAndPaths))]
    public void Vector_path_matches_the_scalar_path_for_any_token_count(string typeName, string pathName)
    {
        var type = Enum.Parse<TensorType>(typeName);
        var path = Enum.Parse<KernelPath>(pathName);
        foreach (int columns in KernelData.Lengths.Where(c => c <= 2048))
            foreach (int rows in new[] { 1, 3, 4, 5, 6, 8, 10, 13 })
                foreach (int n in new[] { 1, 2, 3, 4, 5, 7, 9 })
                    AssertMatches(type, path, rows, columns, n);
        AssertMatches(type, path, rows: 8, columns: 5632, n: 6);
        AssertMatches(type, path, rows: 4, columns: 172, n: 64);
    }

    private static void AssertMatches(TensorType type, KernelPath path, int rows, int columns, int n)
    {
        int stride = rows + 3; // the output rows of a slice of a bigger matrix
        var (w, values) = KernelData.Weights(rows * columns, type, seed: rows * 31 + columns);
        var x = KernelData.Floats(n * columns, seed: n * 131 + columns);
        var expected = new float[n * stride];
        var actual = new float[n * stride];
        Array.Fill(actual, float.NaN);
        Array.Fill(expected, float.NaN);
        var scratch = new float[MatMul.ScratchLength(columns)];
        MatMul.Multiply(w, type, rows, x, n, expected, stride, scratch, KernelPath.Scalar);
        MatMul.Multiply(w, type, rows, x, n, actual, stride, scratch, path);
        for (int t = 0; t < n; t++)
        {
            for (int r = 0; r < rows; r++)
            {
                double magnitude = 0;
                for (int c = 0; c < columns; c++) magnitude += Math.Abs(values[r * columns + c] * x[t * columns + c]);
                float e = expected[t * stride + r], a = actual[t * stride + r];
                Assert.True(Math.Abs(e - a) <= MatVecTests.RelativeTolerance * magnitude + 1e-30,
                    $"{type} {path} {rows}×{columns}, n={n}, token {t} row {r}: scalar {e}, vector {a}");
            }
            for (int r = rows; r < stride && t * stride + r < actual.Length; r++)
                Assert.True(float.IsNaN(actual[t * stride + r]), "wrote outside its rows");
        }
    }

    [Fact]
    public void Every_tiling_sums_in_the_order_of_the_matrix_vector_product()
    {
        // 6-row tiles, the 4-row tile for the rows left over, MatVec for the rest and for tokens left over: all sum a
        // (row, token) in one accumulator over the columns, as F32 MatVec does, so the tile shape never changes a result
        // (the compressed matrices' prefill multiplies decoded F32 rows; pinned outputs depend on it). F16 MatVec pairs
        // rows its own way (F16PairMatVec) and is compared within tolerance below.
        foreach (var path in KernelData.VectorPaths)
            foreach (int rows in new[] { 6, 10, 13, 17 })
                foreach (int columns in new[] { 64, 100, 2048 })
                {
                    const int n = 7;
                    var (w, _) = KernelData.Weights(rows * columns, TensorType.F32, seed: rows + columns);
                    var x = KernelData.Floats(n * columns, seed: 7 * columns);
                    var batch = new float[n * rows];
                    MatMul.Multiply(w, TensorType.F32, rows, x, n, batch, rows, new float[MatMul.ScratchLength(columns)], path);
                    for (int t = 0; t < n; t++)
                    {
                        var single = new float[rows];
                        MatVec.Multiply(w, TensorType.F32, x.AsSpan(t * columns, columns), single, path);
                        Assert.True(single.AsSpan().SequenceEqual(batch.AsSpan(t * rows, rows)), $"{path} {rows}×{columns} token {t}");
                    }
                }
    }

    [Fact]
    public void Each_token_gets_the_matrix_vector_product()
    {
        var (w, _) = KernelData.Weights(13 * 40, TensorType.F16, seed: 5);
        var x = KernelData.Floats(6 * 40, seed: 6);
        var batch = new float[6 * 13];
        MatMul.Multiply(w, TensorType.F16, 13, x, 6, batch, 13, new float[MatMul.ScratchLength(40)]);
        for (int t = 0; t < 6; t++)
        {
            var single = new float[13];
            MatVec.Multiply(w, TensorType.F16, x.AsSpan(t * 40, 40), single);
            for (int r = 0; r < 13; r++) Assert.Equal(single[r], batch[t * 13 + r], 4);
        }
    }
}
