using BenchmarkDotNet.Attributes;
using Caldera.Compiler.Decomposition;
using Caldera.Compiler.Tests.Decomposition;

namespace Caldera.Benchmarks.Decomposition;

/// <summary>
/// One CALDERA decomposition of a 4096×4096 synthetic matrix (decaying spectrum, outlier columns, correlated
/// inputs with heavy channels; 2048 calibration tokens), single invocation because a Paper run takes hours.
/// After each benchmark the share of time per step is printed (from <see cref="DecompositionProfile"/>).
/// "PaperOneOuterIteration" is the Paper preset cut to T_out = 1: the Paper time is projected from it.
/// Run:
///   dotnet run -c Release --project benchmarks/Caldera.Benchmarks -- --filter '*DecompositionBenchmarks.Fast*'
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 0, iterationCount: 1, invocationCount: 1)]
public class DecompositionBenchmarks
{
    private const int Size = 4096;

    private SyntheticMatrix layer = null!;
    private DecompositionProfile profile = null!;

    [GlobalSetup]
    public void Setup() => layer = SyntheticMatrix.Create(Size, Size, seed: 11);

    [IterationSetup]
    public void StartProfile() => profile = new DecompositionProfile();

    [Benchmark]
    public double Fast() => Decompose(CalderaOptions.Fast);

    [Benchmark]
    public double PaperOneOuterIteration() => Decompose(CalderaOptions.Paper with { OuterIterations = 1 });

    [Benchmark]
    public double Paper() => Decompose(CalderaOptions.Paper);

    [IterationCleanup]
    public void PrintProfile() => Print(profile);

    /// <summary>Prints each step's wall seconds and share of the profiled total, and its process CPU seconds.</summary>
    internal static void Print(DecompositionProfile profile)
    {
        double total = profile.Total.TotalSeconds, totalCpu = profile.TotalCpu.TotalSeconds;
        Console.WriteLine($"// Decomposition steps ({total:F1} s in all, {totalCpu:F1} CPU s):");
        foreach (var step in Enum.GetValues<DecompositionStep>())
            Console.WriteLine($"//   {step,-20} {profile[step].TotalSeconds,8:F2} s  {100 * profile[step].TotalSeconds / total,5:F1} %  {profile.Cpu(step).TotalSeconds,8:F2} CPU s");
    }

    private double Decompose(CalderaOptions options) =>
        CalderaDecomposer.Decompose(layer.W, layer.H, options, progress: null, profile).RelativeError;
}
