using BenchmarkDotNet.Attributes;
using Caldera.Benchmarks.Inference;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Training.Model;
using Caldera.Runtime.Training.Optimization;

namespace Caldera.Benchmarks.Training;

/// <summary>
/// One fine-tuning step on <see cref="SyntheticCompressedLlama"/> (dim 2048, 8 layers, rank-64 factors), training the
/// top 16 ranks of every matrix as <c>caldera finetune --rank 16 --seq-len 256</c> does: the forward of a 256-token
/// window keeping every block's activations, the next-token loss over the 32000-entry vocabulary in chunks, the
/// backward, and one AdamW update. tok/s is window tokens per second, to set beside the float prefill of the same
/// model (<see cref="CompressedModelBenchmarks.PrefillCaldera"/>, pp64). Peak memory is the `finetune-memory` probe's.
/// </summary>
[Config(typeof(InferenceBenchmarkConfig))]
public class FineTuneBenchmarks
{
    public const int Window = 256, Rank = 16;
    private readonly int[] _tokens = [.. Enumerable.Range(0, Window + 1).Select(i => (i * 7919 + 11) % 32000)];
    private WorkerPool _pool = null!;
    private TrainableModel _model = null!;
    private WindowPass _pass = null!;
    private AdamW _optimizer = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _model = TrainableModel.Peel(SyntheticCompressedLlama.Build(), Rank);
        _pool = new WorkerPool(Threads);
        _pass = new WindowPass(_model, _pool, Window);
        _optimizer = new AdamW(_model.Trained, weightDecay: 0, clipNorm: 1.0);
    }

    [Benchmark(OperationsPerInvoke = Window)]
    public double Step() => Step(_model, _pass, _optimizer, _tokens);

    /// <summary>One training step on the window <paramref name="tokens"/>[0..Window) → [1..Window]: gradients, then AdamW.</summary>
    internal static double Step(TrainableModel model, WindowPass pass, AdamW optimizer, int[] tokens)
    {
        model.ClearGradients();
        double loss = pass.Accumulate(tokens.AsSpan(0, Window), tokens.AsSpan(1, Window), 1f / Window);
        optimizer.Apply(1e-4);
        return loss;
    }

    [GlobalCleanup]
    public void Cleanup() => _pool.Dispose();
}
