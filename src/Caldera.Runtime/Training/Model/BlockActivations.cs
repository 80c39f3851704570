using Caldera.Runtime.Model;

namespace Caldera.Runtime.Training.Model;

/// <summary>
/// What one block's forward keeps for its backward over a window of T tokens: q and k after RoPE, v, the attention
/// output o, x₁, the gate and up projections, and the two norms' ρ. The normed inputs a and f, h = silu(gate)·up and
/// the attention probabilities are not kept: the backward rebuilds them from these at a small fraction of the block's
/// cost (elementwise, and T²/2 dot products of the head width), which is what lets every block of a small model keep its
/// activations instead of running its forward twice (<see cref="WindowPass"/>).
/// </summary>
internal sealed class BlockActivations(LlamaConfig config, int maxTokens)
{
    public float[] Q { get; } = New(maxTokens, config.QDim);
    public float[] K { get; } = New(maxTokens, config.KvDim);
    public float[] V { get; } = New(maxTokens, config.KvDim);
    public float[] O { get; } = New(maxTokens, config.QDim);
    public float[] X1 { get; } = New(maxTokens, config.Dim);
    public float[] Gate { get; } = New(maxTokens, config.HiddenDim);
    public float[] Up { get; } = New(maxTokens, config.HiddenDim);
    public float[] RhoAttention { get; } = New(maxTokens, 1);
    public float[] RhoFfn { get; } = New(maxTokens, 1);

    /// <summary>The bytes one block's activations take for windows of <paramref name="maxTokens"/> tokens.</summary>
    public static long Bytes(LlamaConfig config, int maxTokens) =>
        sizeof(float) * (long)maxTokens * (2L * config.QDim + 2L * config.KvDim + config.Dim + 2L * config.HiddenDim + 2);

    private static float[] New(int tokens, int width) => new float[(long)tokens * width];
}
