namespace Caldera.Runtime.Inference;

/// <summary>
/// A weight matrix as the forward pass sees it: y = W·x with W of shape [<see cref="OutputDim"/>,
/// <see cref="InputDim"/>]. The dense implementation reads a <see cref="Model.TensorView"/>; compressed
/// matrices (y = Q·x + L·(R·x) and its scaled variants) plug into the same forward pass through this seam.
/// </summary>
internal interface ILinear
{
    int InputDim { get; }
    int OutputDim { get; }

    /// <summary>y = W·x   x: InputDim; y: OutputDim. Must not allocate.</summary>
    void Apply(ReadOnlySpan<float> x, Span<float> y);

    /// <summary>
    /// Y[t] = W·X[t] for t &lt; n, the tokens of one sequence (a prefill chunk)   X: n × InputDim; Y: n × OutputDim
    /// (row-major). Must not allocate.
    /// </summary>
    void ApplyBatch(ReadOnlySpan<float> x, Span<float> y, int n);

    /// <summary>
    /// Y[t] = W·X[t] for t &lt; n, one decode step each of n sequences: every row bit for bit what <see cref="Apply"/>
    /// gives it alone, so a session's tokens do not depend on what else runs beside it. An implementation that can
    /// read its weights once for all rows overrides this; the default applies the matrix row by row.
    /// </summary>
    void ApplyDecodeSteps(ReadOnlySpan<float> x, Span<float> y, int n)
    {
        for (int t = 0; t < n; t++) Apply(x.Slice(t * InputDim, InputDim), y.Slice(t * OutputDim, OutputDim));
    }

    /// <summary>
    /// Builds what a decode step reads that the model file does not hold in that form (a compressed matrix's int8 L
    /// planes), so that no later call builds it; the same bytes whichever thread builds them. Safe beside calls.
    /// </summary>
    void PrepareDecode()
    {
    }
}
