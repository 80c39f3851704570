using BenchmarkDotNet.Attributes;
using Caldera.Runtime.Inference;

namespace Caldera.Benchmarks.Inference;

/// <summary>
/// One <see cref="Transformer.DecodeSteps"/> call of S = 1, 2, 4, 8 sequences on <see cref="SyntheticCompressedLlama"/>
/// (int8 arithmetic and the 6-bit classifier, as <c>CalderaModel</c> runs sessions), each sequence at position 64
/// after its own 64-token prompt: the tok/s column is the aggregate decode throughput of S concurrent sessions, without
/// the scheduler's prompt chunks (the `sessions` probe measures those).
/// </summary>
[Config(typeof(InferenceBenchmarkConfig))]
public class DecodeStepsBenchmarks
{
    private const int Position = 64;
    private CompressedModelWeights _weights = null!;
    private Transformer _transformer = null!;
    private KvCache[] _caches = [];
    private readonly int[] _tokens = [.. Enumerable.Range(100, 8)];
    private readonly int[] _positions = [.. Enumerable.Repeat(Position, 8)];
    private float[] _logits = [];

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var content = SyntheticCompressedLlama.Build();
        _weights = new CompressedModelWeights(content, "synthetic-caldera-2048d");
        _transformer = new Transformer(content.Config, binding => _weights.Bind(binding), new TransformerOptions
        {
            Threads = Threads, ContextLength = 128, Int8Activations = true, ClassifierPrecision = ClassifierPrecision.Int6, DecodeStepsBatchSize = 8,
        });
        _caches = [.. Enumerable.Range(0, 8).Select(_ => _transformer.NewCache())];
        for (int i = 0; i < _caches.Length; i++) _transformer.Prefill(_caches[i], [.. Enumerable.Range(1 + i, Position)], 0);
        _logits = new float[8 * content.Config.VocabSize];
    }

    [Benchmark(OperationsPerInvoke = 1, Baseline = true)]
    public float Sessions1() => Steps(1);

    [Benchmark(OperationsPerInvoke = 2)]
    public float Sessions2() => Steps(2);

    [Benchmark(OperationsPerInvoke = 4)]
    public float Sessions4() => Steps(4);

    [Benchmark(OperationsPerInvoke = 8)]
    public float Sessions8() => Steps(8);

    private float Steps(int sessions)
    {
        _transformer.DecodeSteps(_tokens.AsSpan(0, sessions), _positions, _caches, _logits.AsSpan(0, sessions * _weights.Config.VocabSize));
        return _logits[0];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _transformer.Dispose();
        _weights.Dispose();
    }
}
