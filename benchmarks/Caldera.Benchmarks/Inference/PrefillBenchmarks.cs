using BenchmarkDotNet.Attributes;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;

namespace Caldera.Benchmarks.Inference;

/// <summary>Prompt processing (llama.cpp's pp64) on <see cref="SyntheticLlama"/> (F16): 64 tokens from position 0 in one batch.</summary>
[Config(typeof(InferenceBenchmarkConfig))]
public class PrefillBenchmarks
{
    private const int PromptTokens = 64;
    private readonly int[] _prompt = Enumerable.Range(1, PromptTokens).ToArray();
    private ModelCheckpoint _model = null!;
    private Transformer _transformer = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _model = SyntheticLlama.Build();
        _transformer = new Transformer(_model, new TransformerOptions { Threads = Threads, ContextLength = 256, PrefillBatchSize = PromptTokens });
    }

    [Benchmark(OperationsPerInvoke = PromptTokens)]
    public float PrefillF16() => _transformer.Prefill(_prompt, 0)[0];

    [GlobalCleanup]
    public void Cleanup()
    {
        _transformer.Dispose();
        _model.Dispose();
    }
}
