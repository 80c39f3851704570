using Caldera.Compiler.Decomposition;
using Caldera.Compiler.LinearAlgebra;
using Caldera.Runtime.Inference;

namespace Caldera.Compiler.Tests.Compression;

/// <summary>The runtime's CompressedLinear, fed the stored form of a real decomposition, against the compiler's own apply and reconstruction.</summary>
public class CompressedLinearDifferentialTests
{
    /// <summary>
    /// Same codes, different float paths (the compiler applies Ŵ or decodes with fp64 dots; the runtime uses fp32
    /// fused kernels and per-token transforms): rounding only, well under 1e-5 of the output RMS at these sizes.
    /// </summary>
    private const double RelativeTolerance = 2e-5;

    public static TheoryData<int, int, string> Cases => new()
    {
        { 64, 172, "caldera" }, { 172, 64, "caldera" }, { 256, 256, "caldera" }, { 768, 256, "caldera" },
        { 37, 45, "caldera" }, { 45, 37, "half-factors" }, { 64, 172, "ldlq" }, { 172, 64, "rtn" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_runtime_layer_computes_what_the_compiler_decomposed(int rows, int columns, string method)
    {
        var random = new Random(rows * 1000 + columns);
        var w = new Matrix<float>(rows, columns, TestData.Gaussian(random, rows * columns, 0.02f));
        var hessian = new Hessian(columns);
        hessian.Add(TestData.Gaussian(random, 2 * columns * columns, 1f), 2 * columns, threads: 2);
        var fast = CalderaOptions.Fast with { Rank = 8, Threads = 2 };
        var compressed = method switch
        {
            "rtn" => RoundToNearest.Compress(w, hessian.SecondMoment(), bits: 2, threads: 2),
            "ldlq" => CalderaDecomposer.Decompose(w, hessian.SecondMoment(), fast with { Rank = 0 }),
            "half-factors" => CalderaDecomposer.Decompose(w, hessian.SecondMoment(), fast with { FactorBits = 16 }),
            _ => CalderaDecomposer.Decompose(w, hessian.SecondMoment(), fast),
        };
        var data = compressed.ToLinearData("m");
        Assert.Equal(compressed.BitsPerWeight, data.BitsPerWeight, 12);

        const int tokens = 4;
        var x = TestData.Gaussian(random, tokens * columns);
        var reconstructed = compressed.Reconstruct(2);
        using var pool = new WorkerPool(2);
        var matrix = new CompressedLinear(data, pool);
        var batch = new float[tokens * rows];
        matrix.ApplyBatch(x, batch, tokens);
        var single = new float[rows];
        var fromCodes = new float[rows];
        for (int t = 0; t < tokens; t++)
        {
            var xt = x.AsSpan(t * columns, columns);
            var expected = new double[rows];
            for (int i = 0; i < rows; i++)
                for (int c = 0; c < columns; c++) expected[i] += (double)reconstructed[i, c] * xt[c];
            matrix.Apply(xt, single);
            compressed.Apply(xt, fromCodes);
            Close(expected, single, $"{method} decode t={t}");
            Close(expected, batch.AsSpan(t * rows, rows).ToArray(), $"{method} prefill t={t}");
            Close(expected, fromCodes, $"{method} compiler apply t={t}");
        }
    }

    private static void Close(double[] expected, float[] actual, string what)
    {
        double rms = Math.Sqrt(expected.Sum(v => v * v) / expected.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= RelativeTolerance * rms, $"{what}: [{i}] {actual[i]} vs {expected[i]} (rms {rms})");
    }
}
