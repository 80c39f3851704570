using BenchmarkDotNet.Attributes;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;

namespace Caldera.Benchmarks.Inference;

/// <summary>
/// Decode speed on <see cref="SyntheticLlama"/> (F16): one token at a time at positions 64..79 after a
/// 64-token prefill, so attention reads a short cache as in early generation.
/// </summary>
[Config(typeof(InferenceBenchmarkConfig))]
public class DecodeBenchmarks
{
    private const int Tokens = 16;
    private ModelCheckpoint _model = null!;
    private Transformer _transformer = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _model = SyntheticLlama.Build();
        _transformer = new Transformer(_model, new TransformerOptions { Threads = Threads, ContextLength = 256 });
        _transformer.Prefill(Enumerable.Range(1, 64).ToArray(), 0);
    }

    [Benchmark(OperationsPerInvoke = Tokens)]
    public float DecodeF16()
    {
        float sum = 0;
        for (int i = 0; i < Tokens; i++) sum += _transformer.Decode(100 + i, 64 + i)[0];
        return sum;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _transformer.Dispose();
        _model.Dispose();
    }
}
