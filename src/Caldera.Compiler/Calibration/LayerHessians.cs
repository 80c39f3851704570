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
    public IReadOnlyDictionary<LinearInput, Matrix<double>> ReleaseSecondMoments() => Release(h => h.SecondMoment());

    /// <summary>
    /// <see cref="Hessian.RegularizedSingle"/> of each input, releasing each fp64 sum once it is converted: a block's
    /// Hessians then take half the memory of its sums (0.9 GiB for an 8B model's ffn_down, not 1.6 + 1.6 for sum and
    /// moment). <paramref name="check"/> sees each accumulator first, to refuse inputs that are all zero or not finite.
    /// </summary>
    public Matrix<float>[] ReleaseRegularized(double sigma, Action<LinearInput, Hessian> check)
    {
        var regularized = Release(h => h.RegularizedSingle(sigma), check);
        return [.. Enumerable.Range(0, _hessians.Length).Select(i => regularized[(LinearInput)i])];
    }

    private Dictionary<LinearInput, T> Release<T>(Func<Hessian, T> convert, Action<LinearInput, Hessian>? check = null)
    {
        ObjectDisposedException.ThrowIf(_released, this);
        _released = true;
        var converted = new Dictionary<LinearInput, T>();
        for (int i = 0; i < _hessians.Length; i++)
        {
            check?.Invoke((LinearInput)i, _hessians[i]);
            converted[(LinearInput)i] = convert(_hessians[i]);
            _hessians[i] = null!;
        }
        return converted;
    }
}
