namespace Caldera.Runtime.Inference;

/// <summary>Which matrices of a decoder block read an activation: the four inputs the Hessians H = E[x·xᵀ] are taken of.</summary>
internal enum LinearInput
{
    /// <summary>rms(x)·g_attn, read by W_q, W_k and W_v (dim wide).</summary>
    Attention,

    /// <summary>The attention heads' output, read by W_o (heads·headDim wide).</summary>
    AttentionOutput,

    /// <summary>rms(x)·g_ffn, read by W_gate and W_up (dim wide).</summary>
    Ffn,

    /// <summary>silu(W_gate·x) ⊙ W_up·x, read by W_down (hidden wide).</summary>
    Down,
}

/// <summary>
/// Sees the inputs of a block's matrices as the forward pass computes them (calibration). The forward
/// pass calls it only when one is given, so decoding without an observer costs nothing.
/// </summary>
internal interface IActivationObserver
{
    /// <param name="layer">The decoder block.</param>
    /// <param name="input">Which matrices read <paramref name="x"/>.</param>
    /// <param name="x">tokens × width, row-major; valid only during the call.</param>
    /// <param name="tokens">Rows of <paramref name="x"/>.</param>
    void Observe(int layer, LinearInput input, ReadOnlySpan<float> x, int tokens);
}
