using Caldera.Runtime.Inference;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Training.Arithmetic;
using Caldera.Runtime.Training.Objectives;

namespace Caldera.Runtime.Training.Model;

/// <summary>
/// The fp32 training pass over one window of T ≤ <see cref="MaxTokens"/> tokens at positions 0..T−1: embedding, the
/// blocks, the final norm, the chunked cross-entropy, and back. The forward keeps each block's input x_l (T × dim).
/// When every block's <see cref="BlockActivations"/> fit <see cref="ActivationBudget"/> (TinyLlama's block shape: 72 KiB
/// a token, 150 MB at 256 tokens and 8 layers), the forward keeps them all and the backward runs no forward again;
/// otherwise (an 8B model's 32 layers at 256 tokens would keep 1.4 GB) memory is one block's activations plus the
/// residual stream, and the backward runs block l's forward again from x_l just before its backward (activation
/// checkpointing; the last block's are still there). Both give the same bits. Gradients are
/// added to the trained matrices' (and trained gains') accumulators, so windows accumulate until the optimizer takes them.
/// </summary>
internal sealed class WindowPass
{
    private readonly TrainableModel _model;
    private readonly RowProducts _products;
    private readonly BlockPass _block;
    private readonly BlockActivations[] _activations;

    /// <summary>Where a recomputed block writes its output, which the stored stream already holds (checkpointing only).</summary>
    private readonly float[]? _recomputed;

    /// <summary>
    /// Bytes that every block's activations may take before the pass checkpoints instead: a quarter of the memory goal
    /// (peak within the stored model + 1 GiB), whose rest holds the trained ranks with their gradients and moments, the
    /// widened embedding and classifier, and one block's buffers.
    /// </summary>
    public const long ActivationBudget = 256L << 20;
    private readonly float[][] _stream;
    private readonly float[] _h, _rho, _dh, _dx;

    /// <param name="activationBudget">Bytes that every block's kept activations may take (<see cref="ActivationBudget"/>); 0 always checkpoints.</param>
    public WindowPass(TrainableModel model, WorkerPool pool, int maxTokens, long activationBudget = ActivationBudget)
    {
        var c = model.Config;
        if (maxTokens < 1 || maxTokens > c.ContextLength)
            throw new ArgumentOutOfRangeException(nameof(maxTokens), $"a window of {maxTokens} tokens is outside 1..{c.ContextLength}, the model's context");
        _model = model;
        MaxTokens = maxTokens;
        _products = new RowProducts(pool);
        int width = Math.Max(Math.Max(c.Dim, c.HiddenDim), c.QDim);
        int rank = model.Linears.Max(l => l.WorkspaceRank);
        _block = new BlockPass(c, _products, new LinearWorkspace(maxTokens, width, rank), RopeTable.For(c, maxTokens), maxTokens);
        _stream = new float[c.LayerCount + 1][];
        for (int l = 0; l <= c.LayerCount; l++) _stream[l] = new float[maxTokens * c.Dim];
        _h = new float[maxTokens * c.Dim];
        _rho = new float[maxTokens];
        _dh = new float[maxTokens * c.Dim];
        _dx = new float[maxTokens * c.Dim];
        _activations = new BlockActivations[c.LayerCount];
        KeepsActivations = c.LayerCount * BlockActivations.Bytes(c, maxTokens) <= activationBudget;
        if (KeepsActivations)
            for (int l = 0; l < c.LayerCount; l++) _activations[l] = new BlockActivations(c, maxTokens);
        else
        {
            Array.Fill(_activations, new BlockActivations(c, maxTokens));
            _recomputed = new float[maxTokens * c.Dim];
        }
    }

    public int MaxTokens { get; }

    /// <summary>Whether every block keeps its activations (no forward runs twice) rather than checkpointing.</summary>
    public bool KeepsActivations { get; }

    /// <summary>
    /// Σ_t of the next-token loss over the window (targets[t] follows inputs[t]), adding <paramref name="weight"/>·∂/∂θ
    /// of that sum to the trained matrices' gradients.
    /// </summary>
    public double Accumulate(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, float weight)
    {
        int n = Forward(inputs);
        if (targets.Length != n) throw new ArgumentException($"{targets.Length} targets for {n} inputs", nameof(targets));
        double loss = ChunkedCrossEntropy.NextToken(_products, _model.Classifier, _model.Config.VocabSize, _h, targets, weight, _dh);
        Backward(n);
        return loss;
    }

    /// <summary>As <see cref="Accumulate(ReadOnlySpan{int}, ReadOnlySpan{int}, float)"/> against a teacher's distributions (distillation).</summary>
    public double Accumulate(ReadOnlySpan<int> inputs, SoftTargets targets, float weight)
    {
        int n = Forward(inputs);
        if (targets.Tokens != n) throw new ArgumentException($"soft targets for {targets.Tokens} tokens, {n} inputs", nameof(targets));
        double loss = ChunkedCrossEntropy.SoftTargets(_products, _model.Classifier, _model.Config.VocabSize, _h, targets, weight, _dh);
        Backward(n);
        return loss;
    }

    /// <summary>Σ_t of the next-token loss, without gradients (validation).</summary>
    public double Loss(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets)
    {
        Forward(inputs);
        return ChunkedCrossEntropy.NextToken(_products, _model.Classifier, _model.Config.VocabSize, _h, targets, 0f, _dh);
    }

    /// <summary>Σ_t of the soft-target cross-entropy against a teacher, without gradients (distillation's validation).</summary>
    public double Loss(ReadOnlySpan<int> inputs, SoftTargets targets)
    {
        Forward(inputs);
        return ChunkedCrossEntropy.SoftTargets(_products, _model.Classifier, _model.Config.VocabSize, _h, targets, 0f, _dh);
    }

    /// <summary>Every position's logits (T × vocab), for tests that compare the trainable model with the base forward.</summary>
    public float[] Logits(ReadOnlySpan<int> inputs)
    {
        int n = Forward(inputs), d = _model.Config.Dim, vocab = _model.Config.VocabSize;
        var logits = new float[n * vocab];
        for (int t = 0; t < n; t++)
            for (int v = 0; v < vocab; v++)
                logits[t * vocab + v] = FixedOrder.Dot(_model.Classifier.AsSpan(v * d, d), _h.AsSpan(t * d, d));
        return logits;
    }

    // Fills the residual stream x_0..x_L and h = rms(x_L)·g_out; returns T.
    private int Forward(ReadOnlySpan<int> inputs)
    {
        var c = _model.Config;
        int n = inputs.Length, d = c.Dim;
        if (n < 1 || n > MaxTokens) throw new ArgumentException($"a window of {n} tokens is outside 1..{MaxTokens}", nameof(inputs));
        for (int t = 0; t < n; t++)
        {
            if ((uint)inputs[t] >= (uint)c.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(inputs), $"token id {inputs[t]} is outside the vocabulary of {c.VocabSize}");
            _model.Embedding.AsSpan(inputs[t] * d, d).CopyTo(_stream[0].AsSpan(t * d, d));
        }
        for (int l = 0; l < c.LayerCount; l++) _block.Forward(_model.Layers[l], _stream[l], _stream[l + 1], n, _activations[l]);
        var x = _stream[c.LayerCount];
        for (int t = 0; t < n; t++) _rho[t] = RmsNormStep.Forward(x.AsSpan(t * d, d), _model.OutputNorm.Values, c.NormEpsilon, _h.AsSpan(t * d, d));
        return n;
    }

    private void Backward(int n)
    {
        var c = _model.Config;
        int d = c.Dim;
        var x = _stream[c.LayerCount];
        Array.Clear(_dx, 0, n * d);
        var scratch = new float[d];
        _model.OutputNorm.Accumulate(x, _rho, _dh, n);
        for (int t = 0; t < n; t++)
            RmsNormStep.Backward(x.AsSpan(t * d, d), _model.OutputNorm.Values, _rho[t], _dh.AsSpan(t * d, d), _dx.AsSpan(t * d, d), scratch);
        for (int l = c.LayerCount - 1; l >= 0; l--)
        {
            if (!KeepsActivations && l < c.LayerCount - 1) _block.Forward(_model.Layers[l], _stream[l], _recomputed!, n, _activations[l]);
            _block.Backward(_model.Layers[l], _stream[l], _dx, n, _activations[l]);
        }
    }
}
