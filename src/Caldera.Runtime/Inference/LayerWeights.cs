using Caldera.Runtime.Model;

namespace Caldera.Runtime.Inference;

/// <summary>
/// One transformer block's weights as the forward pass uses them: the two RMSNorm gains (F32 copies,
/// they are tiny) and the seven matrices behind <see cref="ILinear"/>.
/// </summary>
internal sealed record LayerWeights(
    float[] AttentionNorm,
    ILinear Query,
    ILinear Key,
    ILinear Value,
    ILinear AttentionOutput,
    float[] FfnNorm,
    ILinear Gate,
    ILinear Up,
    ILinear Down)
{
    /// <summary>Binds block <paramref name="layer"/> of a checkpoint densely (calibration runs the original weights).</summary>
    public static LayerWeights Dense(ModelCheckpoint checkpoint, int layer, WorkerPool pool) =>
        Create(layer, checkpoint.Tensor, name => new DenseLinear(checkpoint.Tensor(name), pool));

    /// <summary>Binds block <paramref name="layer"/> by canonical tensor name: norms from <paramref name="tensor"/>, matrices from <paramref name="linear"/>.</summary>
    public static LayerWeights Create(int layer, Func<string, TensorView> tensor, Func<string, ILinear> linear) => new(
        tensor(TensorNames.AttentionNorm(layer)).ToArray(),
        linear(TensorNames.Query(layer)), linear(TensorNames.Key(layer)), linear(TensorNames.Value(layer)),
        linear(TensorNames.AttentionOutput(layer)),
        tensor(TensorNames.FfnNorm(layer)).ToArray(),
        linear(TensorNames.Gate(layer)), linear(TensorNames.Up(layer)), linear(TensorNames.Down(layer)));

    /// <summary>The seven matrices in the order a pass through the block reads them.</summary>
    public IEnumerable<ILinear> Matrices => [Query, Key, Value, AttentionOutput, Gate, Up, Down];
}
