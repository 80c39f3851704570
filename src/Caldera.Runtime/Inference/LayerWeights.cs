using Caldera.Runtime.Model;

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
    ILinearLayer Down)
{
    /// <summary>Block <paramref name="layer"/> of <paramref name="checkpoint"/>, its matrices read in place as <see cref="DenseLinearLayer"/>s.</summary>
    public static LayerWeights Dense(ModelCheckpoint checkpoint, int layer, WorkerPool pool)
    {
        ILinearLayer Linear(string name) => new DenseLinearLayer(checkpoint.Tensor(name), pool);
        return new LayerWeights(
            checkpoint.Tensor(TensorNames.AttentionNorm(layer)).ToArray(),
            Linear(TensorNames.Query(layer)), Linear(TensorNames.Key(layer)), Linear(TensorNames.Value(layer)),
            Linear(TensorNames.AttentionOutput(layer)),
            checkpoint.Tensor(TensorNames.FfnNorm(layer)).ToArray(),
            Linear(TensorNames.Gate(layer)), Linear(TensorNames.Up(layer)), Linear(TensorNames.Down(layer)));
    }
}
