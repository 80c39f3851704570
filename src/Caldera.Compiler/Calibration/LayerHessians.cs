using Caldera.Compiler.Decomposition;
using Caldera.Compiler.LinearAlgebra;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;

namespace Caldera.Compiler.Calibration;

/// <summary>
/// The four Hessians of one decoder block, accumulated in fp64 from the activations the forward pass shows it:
/// the input of W_q/W_k/W_v, of W_o, of W_gate/W_up and of W_down. Observations of other blocks are ignored.
/// </summary>
internal sealed class LayerHessians : IActivationObserver
{
    private readonly Hessian[] _hessians;
    private readonly int _threads;
    private bool _released;

    public LayerHessians(LlamaConfig config, int layer, int threads = 1)
    {
        Layer = layer;
        _threads = threads;
        _hessians =
        [
            new Hessian(config.Dim),      // LinearInput.Attention
            new Hessian(config.QDim),     // LinearInput.AttentionOutput
            new Hessian(config.Dim),      // LinearInput.Ffn
            new Hessian(config.HiddenDim), // LinearInput.Down
        ];
    }

    public int Layer { get; }

    /// <summary>The accumulator of the matrices that read <paramref name="input"/>.</summary>
    public Hessian this[LinearInput input] => _released ? throw new ObjectDisposedException(nameof(LayerHessians)) : _hessians[(int)input];

    /// <summary>Bytes held by the four fp64 accumulators.</summary>
    public long Bytes => _hessians.Sum(h => (long)h.Dimension * h.Dimension * sizeof(double));

    public void Observe(int layer, LinearInput input, ReadOnlySpan<float> x, int tokens)
    {
        if (layer != Layer) return;
        ObjectDisposedException.ThrowIf(_released, this);
        _hessians[(int)input].Add(x, tokens, _threads);
    }

    /// <summary>
    /// H = E[x·xᵀ] for each input, releasing the fp64 sums as it goes, so a block's sums and moments are not both
    /// held (for an 8B model they are ~1.9 GiB each). The accumulator cannot be used afterwards.
    /// </summary>
    public IReadOnlyDictionary<LinearInput, Matrix<double>> ReleaseSecondMoments()
    {
        ObjectDisposedException.ThrowIf(_released, this);
        _released = true;
        var moments = new Dictionary<LinearInput, Matrix<double>>();
        for (int i = 0; i < _hessians.Length; i++)
        {
            moments[(LinearInput)i] = _hessians[i].SecondMoment();
            _hessians[i] = null!;
        }
        return moments;
    }
}
