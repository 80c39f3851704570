using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using Caldera.Runtime.Inference;

namespace Caldera.Benchmarks.Inference;

/// <summary>
/// The memory-bandwidth roofline for <see cref="DecodeBenchmarks"/>: reads as many bytes as one decode step
/// streams (every F16 matrix of <see cref="SyntheticLlama"/>, ~852 MB) with the simplest possible kernel
/// (a vectorised sum), split over the same worker pool. Its tok/s is the decode speed a kernel that did
/// nothing but read the weights would reach on this machine at this moment.
/// </summary>
[Config(typeof(InferenceBenchmarkConfig))]
public class WeightStreamBenchmarks
{
    private float[] _data = null!;
    private WorkerPool _pool = null!;
    private SumWork _work = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = new float[SyntheticLlama.MatrixBytesPerToken() / sizeof(float)];
        for (int i = 0; i < _data.Length; i++) _data[i] = i & 1023; // touch every page so none is read as the shared zero page
        _pool = new WorkerPool(Threads);
        _work = new SumWork(_data, Threads);
    }

    [Benchmark]
    public double StreamOneTokenOfWeights()
    {
        _pool.For(_data.Length / SumWork.Chunk, 8, _work);
        return _work.Total();
    }

    [GlobalCleanup]
    public void Cleanup() => _pool.Dispose();

    private sealed class SumWork(float[] data, int threads) : IParallelWork
    {
        public const int Chunk = 1 << 16;
        private readonly double[] _partial = new double[threads * 8]; // one cache line apart

        public void Execute(int start, int end, int worker) =>
            _partial[worker * 8] += TensorPrimitives.Sum(data.AsSpan(start * Chunk, (end - start) * Chunk));

        public double Total()
        {
            double total = 0;
            for (int i = 0; i < _partial.Length; i += 8)
            {
                total += _partial[i];
                _partial[i] = 0;
            }
            return total;
        }
    }
}
