using Caldera.Compiler.Decomposition;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;

namespace Caldera.Compiler.Calibration;

/// <summary>
/// Calibration one decoder block at a time, with bounded memory: the residual stream of every calibration
/// token (N·L × dim floats) is kept, and each <see cref="Advance"/> moves it through the next block with the
/// full-precision weights, capturing that block's four Hessians on the way. All Hessians come from the original
/// model (compressing one block never changes a later block's inputs), so a caller can compress block l from
/// its Hessians, drop them, and advance to l+1. Live memory: the residual stream, one block's Hessians, one
/// sequence's activations and KV cache; the weights are read in place from the (mapped) checkpoint.
/// </summary>
internal sealed class LayerwiseCalibrator : IDisposable
{
    private readonly ModelCheckpoint _checkpoint;
    private readonly CalibrationSet _set;
    private readonly float[] _hidden;
    private readonly TransformerBlockRunner _runner;
    private readonly int _threads;

    public LayerwiseCalibrator(ModelCheckpoint checkpoint, CalibrationSet set, int threads)
    {
        var c = checkpoint.Config;
        if (set.SequenceLength > c.ContextLength)
            throw new ArgumentOutOfRangeException(nameof(set), $"calibration sequences of {set.SequenceLength} tokens exceed the model's context of {c.ContextLength}; use a shorter --seq-len");
        long floats = (long)set.Tokens.Length * c.Dim;
        if (floats > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(set), $"{set.Samples} × {set.SequenceLength} tokens × dim {c.Dim} is too large a residual stream to hold; use fewer --samples or a shorter --seq-len");
        _checkpoint = checkpoint;
        _set = set;
        _threads = threads;
        _hidden = new float[floats];
        var embedding = checkpoint.Tensor(TensorNames.TokenEmbedding);
        for (int t = 0; t < set.Tokens.Length; t++)
        {
            int token = set.Tokens[t];
            if ((uint)token >= (uint)c.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(set), $"calibration token {token} is outside the vocabulary of {c.VocabSize}; is the tokenizer the model's?");
            embedding.ReadRow(token, _hidden.AsSpan(t * c.Dim, c.Dim));
        }
        _runner = new TransformerBlockRunner(c, set.SequenceLength, new TransformerOptions { Threads = threads });
    }

    /// <summary>The block the residual stream enters next.</summary>
    public int NextLayer { get; private set; }

    /// <summary>Bytes of the kept residual stream (N·L·dim floats).</summary>
    public long ResidualStreamBytes => (long)_hidden.Length * sizeof(float);

    /// <summary>
    /// Moves the residual stream through block <see cref="NextLayer"/>; returns its Hessians when
    /// <paramref name="captureHessians"/> (a block already compressed, e.g. resumed from a cache, needs none).
    /// </summary>
    public LayerHessians? Advance(bool captureHessians, CancellationToken cancellation = default)
    {
        int layer = NextLayer;
        if (layer >= _checkpoint.Config.LayerCount) throw new InvalidOperationException("every block has been calibrated");
        var weights = LayerWeights.Dense(_checkpoint, layer, _runner.Pool);
        var hessians = captureHessians ? new LayerHessians(_checkpoint.Config, layer, _threads) : null;
        int span = _set.SequenceLength * _checkpoint.Config.Dim;
        for (int i = 0; i < _set.Samples; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            _runner.Forward(weights, layer, _hidden.AsSpan(i * span, span), hessians);
        }
        NextLayer = layer + 1;
        return hessians;
    }

    /// <summary>
    /// The classifier's Hessian, from the residual stream after the last block: Σ x̂·x̂ᵀ over every calibration token of
    /// x̂ = rms(x) ⊙ g, the final norm's output the classifier reads. Call it once every block has been advanced through.
    /// </summary>
    public Hessian ClassifierHessian()
    {
        var c = _checkpoint.Config;
        if (NextLayer != c.LayerCount)
            throw new InvalidOperationException($"the classifier's inputs leave block {c.LayerCount - 1}; the stream is at block {NextLayer}");
        var gain = _checkpoint.Tensor(TensorNames.OutputNorm).ToArray();
        var hessian = new Hessian(c.Dim);
        // One sequence at a time: the normalised copy is one sequence's activations, not a second residual stream.
        int span = _set.SequenceLength * c.Dim;
        var normalised = new float[span];
        for (int i = 0; i < _set.Samples; i++)
        {
            var sequence = _hidden.AsSpan(i * span, span);
            for (int t = 0; t < _set.SequenceLength; t++)
                RmsNorm.Apply(sequence.Slice(t * c.Dim, c.Dim), gain, c.NormEpsilon, normalised.AsSpan(t * c.Dim, c.Dim));
            hessian.Add(normalised, _set.SequenceLength, _threads);
        }
        return hessian;
    }

    public void Dispose() => _runner.Dispose();
}
