using BenchmarkDotNet.Attributes;
using Caldera.Compiler.LinearAlgebra;
using MathNet.Numerics;
using MathNet.Numerics.LinearAlgebra.Single;

namespace Caldera.Benchmarks.LinearAlgebra;

/// <summary>
/// MathNet.Numerics 5.0.0's managed provider against our SGEMM on the same n×n float product (n = 2048: the
/// managed provider is too slow at 4096 for a short job). MathNet is pinned to one thread to match Threads = 1.
/// </summary>
public class MathNetGemmBenchmarks
{
    private DenseMatrix mathNetA = null!, mathNetB = null!, mathNetC = null!;
    private Matrix<float> a = null!, b = null!, c = null!;

    [Params(2048)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        Control.UseManaged();
        Control.UseSingleThread();
        var random = new Random(1);
        a = new Matrix<float>(N, N);
        b = new Matrix<float>(N, N);
        c = new Matrix<float>(N, N);
        mathNetA = new DenseMatrix(N, N);
        mathNetB = new DenseMatrix(N, N);
        mathNetC = new DenseMatrix(N, N);
        for (int i = 0; i < N; i++)
        {
            for (int j = 0; j < N; j++)
            {
                a[i, j] = (float)(random.NextDouble() - 0.5);
                b[i, j] = (float)(random.NextDouble() - 0.5);
                mathNetA[i, j] = a[i, j];
                mathNetB[i, j] = b[i, j];
            }
        }
    }

    [Benchmark(Baseline = true)]
    public void MathNetManaged() => mathNetA.Multiply(mathNetB, mathNetC);

    [Benchmark]
    public void CalderaSgemm() => Gemm.Multiply(Op.N, a, Op.N, b, 1f, 0f, c, threads: 1);
}
