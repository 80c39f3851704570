using BenchmarkDotNet.Attributes;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;

namespace Caldera.Benchmarks.Inference;

/// <summary>
/// The classifier of <see cref="SyntheticLlama"/> alone (32000×2048, random F16 weights): the dense F16 matrix that
/// decode runs as stored against its int8 and 6-bit copies (<see cref="Int8DenseLinear"/>, <see cref="Int6DenseLinear"/>,
/// <see cref="TransformerOptions.ClassifierPrecision"/>). Decode is one token; PrefillAllLogits is 64 tokens in one batch
/// (what <c>caldera eval</c> runs per chunk), time per token. Bytes per token: 131,072,000 (F16) against 65,536,000 of
/// levels + 8,192,000 of scales (int8) and 49,152,000 of planes + 4,096,000 of scales (6-bit).
/// </summary>
[Config(typeof(InferenceBenchmarkConfig))]
public class ClassifierBenchmarks
{
    private const int Batch = 64;
    private ModelCheckpoint _checkpoint = null!;
    private WorkerPool _pool = null!;
    private DenseLinear _f16 = null!;
    private Int8DenseLinear _int8 = null!;
    private Int6DenseLinear _int6 = null!;
    private float[] _x = null!, _y = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // One small block: only the untied 32000×2048 output matrix is measured.
        _checkpoint = SyntheticLlama.Build(config: SyntheticLlama.Config with { LayerCount = 1, HiddenDim = 256 });
        _pool = new WorkerPool(Threads);
        var weight = _checkpoint.Tensor(TensorNames.Output);
        _f16 = new DenseLinear(weight, _pool);
        _int8 = new Int8DenseLinear(weight, _pool);
        _int6 = new Int6DenseLinear(weight, _pool);
        var random = new Random(4);
        _x = new float[Batch * weight.Columns];
        for (int i = 0; i < _x.Length; i++) _x[i] = (float)(random.NextDouble() * 2 - 1);
        _y = new float[Batch * weight.Rows];
    }

    [Benchmark(Baseline = true)]
    public void DecodeF16() => _f16.Apply(_x.AsSpan(0, _f16.InputDim), _y.AsSpan(0, _f16.OutputDim));

    [Benchmark]
    public void DecodeInt8() => _int8.Apply(_x.AsSpan(0, _int8.InputDim), _y.AsSpan(0, _int8.OutputDim));

    [Benchmark]
    public void DecodeInt6() => _int6.Apply(_x.AsSpan(0, _int6.InputDim), _y.AsSpan(0, _int6.OutputDim));

    [Benchmark(OperationsPerInvoke = Batch)]
    public void PrefillAllLogitsF16() => _f16.ApplyBatch(_x, _y, Batch);

    [Benchmark(OperationsPerInvoke = Batch)]
    public void PrefillAllLogitsInt8() => _int8.ApplyBatch(_x, _y, Batch);

    [Benchmark(OperationsPerInvoke = Batch)]
    public void PrefillAllLogitsInt6() => _int6.ApplyBatch(_x, _y, Batch);

    [GlobalCleanup]
    public void Cleanup()
    {
        _pool.Dispose();
        _checkpoint.Dispose();
    }
}
