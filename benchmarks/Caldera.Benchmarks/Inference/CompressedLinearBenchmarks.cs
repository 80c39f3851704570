using BenchmarkDotNet.Attributes;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Incoherence;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;

namespace Caldera.Benchmarks.Inference;

/// <summary>
/// One 2048×2048 matrix, CALDERA-compressed (E8P Q, rank 64 with 4-bit factors, randomized Hadamard on both
/// sides; random codes) against the same shape dense in F16: decode (one token) and prefill (64 tokens), one thread.
/// </summary>
[Config(typeof(InferenceBenchmarkConfig))]
public class CompressedLinearBenchmarks
{
    private const int Size = 2048, Rank = 64, Batch = 64;
    private WorkerPool _pool = null!;
    private CompressedLinear _compressed = null!;
    private DenseLinear _dense = null!;
    private ModelCheckpoint _checkpoint = null!;
    private readonly float[] _x = new float[Batch * Size];
    private readonly float[] _y = new float[Batch * Size];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        ushort[] Words(int count) => Enumerable.Range(0, count).Select(_ => (ushort)random.Next(1 << 16)).ToArray();
        _pool = new WorkerPool(1);
        var data = new CompressedLinearData
        {
            Name = "bench", Rows = Size, Columns = Size, GlobalScale = 0.02f,
            InputTransform = TransformData.From(RandomizedHadamard.Create(Size, 1)),
            OutputTransform = TransformData.From(RandomizedHadamard.Create(Size, 2)),
            QKind = QCodeKind.E8P, QBits = 2, QCodes = Words(Size * Size / 8), QWordsPerRow = Size / 8, QScale = 0.3f,
            Rank = Rank, FactorBits = 4, LTransposedCodes = Words(Rank * Size / 4), LTransposedScale = 0.1f,
            RCodes = Words(Rank * Size / 4), RScale = 0.1f,
        };
        _compressed = new CompressedLinear(data, _pool);
        var config = new LlamaConfig { Dim = Size, HiddenDim = Size, LayerCount = 1, HeadCount = 16, KvHeadCount = 16, HeadDim = 128, VocabSize = 32, ContextLength = 16 };
        var builder = new InMemoryCheckpoint(config, "bench");
        foreach (var (name, shape) in TensorNames.Expected(config))
        {
            long count = shape.Aggregate(1L, (a, b) => a * b);
            builder.Add(name, shape, shape.Length == 1 ? TensorType.F32 : TensorType.F16,
                Enumerable.Range(0, (int)count).Select(i => (float)(random.NextDouble() - 0.5) * 0.04f).ToArray());
        }
        _checkpoint = builder.Build();
        _dense = new DenseLinear(_checkpoint.Tensor(TensorNames.Query(0)), _pool);
        for (int i = 0; i < _x.Length; i++) _x[i] = (float)(random.NextDouble() - 0.5);
    }

    [Benchmark]
    public void DecodeCompressed() => _compressed.Apply(_x.AsSpan(0, Size), _y.AsSpan(0, Size));

    [Benchmark(Baseline = true)]
    public void DecodeDenseF16() => _dense.Apply(_x.AsSpan(0, Size), _y.AsSpan(0, Size));

    [Benchmark(OperationsPerInvoke = Batch)]
    public void PrefillCompressed() => _compressed.ApplyBatch(_x, _y, Batch);

    [Benchmark(OperationsPerInvoke = Batch)]
    public void PrefillDenseF16() => _dense.ApplyBatch(_x, _y, Batch);

    [GlobalCleanup]
    public void Cleanup()
    {
        _pool.Dispose();
        _checkpoint.Dispose();
    }
}
