using BenchmarkDotNet.Attributes;
using Caldera.Compiler.Quantizers;

namespace Caldera.Benchmarks.Quantizers;

/// <summary>
/// E8P nearest-codeword throughput. Each operation is one 8-vector (OperationsPerInvoke), so the reported
/// mean is the time per code; codes/s = 1 / mean. Run:
///   dotnet run -c Release --project benchmarks/Caldera.Benchmarks -- --filter '*E8P*' --job short
/// </summary>
[MemoryDiagnoser]
public class E8PQuantizationBenchmarks
{
    private const int Weights = 4096;
    private const int Vectors = Weights / 8;

    private readonly float[] x = new float[Weights];
    private readonly float[] q = new float[Weights];
    private readonly ushort[] codes = new ushort[Vectors];
    private readonly int[] candidates = new int[Vectors];
    private readonly ushort[] residualWords = new ushort[2 * Vectors];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        for (int i = 0; i < Weights; i++)
            x[i] = 1.03f * (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        E8PCodebook.QuantizeRow(x, q, codes);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Vectors)]
    public void QuantizeRow() => E8PCodebook.QuantizeRow(x, q, codes);

    [Benchmark(OperationsPerInvoke = Vectors)]
    public int SearchScalar()
    {
        int sum = 0;
        for (int v = 0; v < Vectors; v++) sum += E8PNearest.SearchScalar(x.AsSpan(8 * v, 8));
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Vectors)]
    public int SearchVector256()
    {
        int sum = 0;
        for (int v = 0; v < Vectors; v++) sum += E8PNearest.SearchVector256(x.AsSpan(8 * v, 8));
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Vectors)]
    public int SearchVector512()
    {
        int sum = 0;
        for (int v = 0; v < Vectors; v++) sum += E8PNearest.SearchVector512(x.AsSpan(8 * v, 8));
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Vectors)]
    public int ClassSearchScalar()
    {
        int sum = 0;
        for (int v = 0; v < Vectors; v++) sum += E8PClassSearch.Search(x.AsSpan(8 * v, 8));
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Vectors)]
    public int ClassSearchMany()
    {
        E8PClassSearch.SearchMany(x, candidates);
        return candidates[0];
    }

    [Benchmark(OperationsPerInvoke = Vectors)]
    public void ResidualQuantizeRow() => E8PResidualCode.QuantizeRow(x, q, residualWords);

    [Benchmark(OperationsPerInvoke = Vectors)]
    public void DecodeRow() => E8PCodebook.DecodeRow(codes, q);
}
