namespace Caldera.Runtime.Inference;

/// <summary>
/// One transformer block's weights as the forward pass uses them: the two RMSNorm gains (F32 copies,
/// they are tiny) and the seven matrices behind <see cref="ILinearLayer"/>.
/// </summary>
public sealed record LayerWeights(
    float[] AttentionNorm,
    ILinearLayer Query,
    ILinearLayer Key,
    ILinearLayer Value,
    ILinearLayer AttentionOutput,
    float[] FfnNorm,
    ILinearLayer Gate,
    ILinearLayer Up,
    ILinearLayer Down);
