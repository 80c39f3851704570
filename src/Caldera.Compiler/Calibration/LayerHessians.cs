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
    /// <see cref="Hessian.RegularizedSingle"/> of each input, indexed by <see cref="LinearInput"/>, releasing each fp64 sum
    /// once it is converted: a block's Hessians then take half the memory of its sums (0.8 GiB for an 8B model's
    /// ffn_down, where sum and second moment were 1.6 GiB each). <paramref name="check"/> sees each accumulator first,
    /// to refuse inputs that are all zero or not finite. The accumulator cannot be used afterwards.
    /// </summary>
    public Matrix<float>[] ReleaseRegularized(double sigma, Action<LinearInput, Hessian> check)
    {
        ObjectDisposedException.ThrowIf(_released, this);
        _released = true;
        var regularized = new Matrix<float>[_hessians.Length];
        for (int i = 0; i < _hessians.Length; i++)
        {
            check((LinearInput)i, _hessians[i]);
            regularized[i] = _hessians[i].RegularizedSingle(sigma);
            _hessians[i] = null!;
        }
        return regularized;
    }
}
