using BenchmarkDotNet.Attributes;
using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Benchmarks.LinearAlgebra;

/// <summary>C = A·B at n = 2048 in float (2n³ = 17.2 GFLOP per call), 1 and 2 threads; GFLOP/s = 17.18 / seconds.</summary>
[MemoryDiagnoser]
public class SgemmBenchmarks
{
    private Matrix<float> a = null!, b = null!, c = null!;

    [Params(2048)]
    public int N { get; set; }

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        a = new Matrix<float>(N, N);
        b = new Matrix<float>(N, N);
        c = new Matrix<float>(N, N);
        for (int i = 0; i < a.Data.Length; i++)
        {
            a.Data[i] = (float)(random.NextDouble() - 0.5);
            b.Data[i] = (float)(random.NextDouble() - 0.5);
        }
    }

    [Benchmark]
    public void Sgemm() => Gemm.Multiply(Op.N, a, Op.N, b, 1f, 0f, c, Threads);
}
