using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;

namespace Caldera.Benchmarks.Inference;

/// <summary>
/// A short job (3 warm-ups, 5 measured iterations, one process) with allocations and tok/s: each model
/// takes a few seconds to build and a decode step ~20–50 ms, so the default job would run for an hour.
/// </summary>
internal sealed class InferenceBenchmarkConfig : ManualConfig
{
    public InferenceBenchmarkConfig()
    {
        AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(5).WithId("Short"));
        AddDiagnoser(MemoryDiagnoser.Default);
        AddColumn(new TokensPerSecondColumn());
    }
}
