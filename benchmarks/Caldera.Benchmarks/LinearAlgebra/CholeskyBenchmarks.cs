using BenchmarkDotNet.Attributes;
using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Benchmarks.LinearAlgebra;

/// <summary>Cholesky (n³/3 flops) of a damped Gram matrix H = XᵀX/n + 0.01·I, the shape of a calibration Hessian.</summary>
public class CholeskyBenchmarks
{
    private Matrix<double> h = null!;

    [Params(2048, 4096)]
    public int N { get; set; }

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup() => h = DampedGram(N);

    [Benchmark]
    public bool Cholesky() => Caldera.Compiler.LinearAlgebra.Cholesky.TryFactor(h, out _, Threads);

    internal static Matrix<double> DampedGram(int n)
    {
        var random = new Random(2);
        var x = new Matrix<double>(n, n);
        for (int i = 0; i < x.Data.Length; i++)
        {
            x.Data[i] = random.NextDouble() - 0.5;
        }

        Matrix<double> h = Gemm.Multiply(Op.T, x, Op.N, x, threads: 2);
        for (int i = 0; i < h.Data.Length; i++)
        {
            h.Data[i] /= n;
        }

        for (int i = 0; i < n; i++)
        {
            h[i, i] += 0.01;
        }

        return h;
    }

}
