using BenchmarkDotNet.Attributes;
using Caldera.Runtime.Model;

namespace Caldera.Benchmarks;

/// <summary>
/// Time to open a checkpoint: header parse, tensor-table checks and the NaN/Inf scan of every weight (the
/// mapping itself is lazy, so the scan is what touches the data).
///   dotnet run -c Release --project benchmarks/Caldera.Benchmarks -- --filter '*CheckpointOpen*' --job short
/// </summary>
[MemoryDiagnoser]
public class CheckpointOpenBenchmarks
{
    private static readonly string Models = FindSharedModels();

    /// <summary>GGUF v3, 57 F32 tensors, 21 MB: dominated by the finite-weights scan.</summary>
    [Benchmark]
    public long TinyStories256dGguf() => Open("tinystories-256d/tinystories-256d-f32.gguf");

    /// <summary>GGUF v3 with a 32000-token embedded vocabulary: dominated by metadata parsing.</summary>
    [Benchmark]
    public long TinyRandomGgufWith32000TokenVocabulary() => Open("llama-2-tiny-random-gguf/llama-2-tiny-random.gguf");

    /// <summary>The same stories260K weights as GGUF v1 and as llama2.c .bin.</summary>
    [Benchmark]
    public long Stories260KGgufV1() => Open("stories260K-gguf/tinyllamas-stories-260k-f32.gguf");

    [Benchmark(Baseline = true)]
    public long Stories260KLlama2c() => Open("stories260K/stories260K.bin");

    private static long Open(string relative)
    {
        using var model = ModelCheckpoint.Open(Path.Combine(Models, relative));
        return model.ParameterCount;
    }

    private static string FindSharedModels()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CalderaCompiler.sln")))
                return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "models"));
        throw new InvalidOperationException("CalderaCompiler.sln not found above " + AppContext.BaseDirectory);
    }
}
