using BenchmarkDotNet.Attributes;
using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Benchmarks.LinearAlgebra;

/// <summary>
/// Full symmetric eigendecomposition (values and vectors) of a damped Gram matrix. Run at
/// n = 1024 and 2048: the O(n³) Householder + QL path at 4096 needs minutes per call (see benchmarks/README.md).
/// </summary>
public class SymmetricEigenBenchmarks
{
    private Matrix<double> h = null!;

    [Params(1024, 2048)]
    public int N { get; set; }

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup() => h = CholeskyBenchmarks.DampedGram(N);

    [Benchmark]
    public double Decompose() => SymmetricEigen.Decompose(h, Threads).Values[0];
}
