using BenchmarkDotNet.Attributes;
using Caldera.Runtime.Incoherence;

namespace Caldera.Benchmarks.Quantizers;

/// <summary>
/// u = Uᵀ(S ⊙ x) for one vector: 4096 (pure Walsh–Hadamard), 11008 (344-block ⊗ WHT 32) and 172 (seeded
/// 43×43 block ⊗ WHT 4). Run:
///   dotnet run -c Release --project benchmarks/Caldera.Benchmarks -- --filter '*RandomizedHadamard*' --job short
/// </summary>
[MemoryDiagnoser]
public class RandomizedHadamardBenchmarks
{
    private RandomizedHadamard rht = null!;
    private float[] x = null!;
    private float[] u = null!;

    [Params(4096, 11008, 172)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        rht = RandomizedHadamard.Create(N, seed: 42);
        var random = new Random(1);
        x = new float[N];
        u = new float[N];
        for (int i = 0; i < N; i++) x[i] = (float)random.NextDouble() - 0.5f;
    }

    [Benchmark]
    public void Forward() => rht.Forward(x, u);
}
