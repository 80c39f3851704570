namespace Caldera.Runtime.Training.Model;

/// <summary>One block's weights for training: the two RMSNorm gains (frozen) and the seven matrices.</summary>
internal sealed record TrainableLayer(
    float[] AttentionNorm,
    TrainableLinear Query,
    TrainableLinear Key,
    TrainableLinear Value,
    TrainableLinear AttentionOutput,
    float[] FfnNorm,
    TrainableLinear Gate,
    TrainableLinear Up,
    TrainableLinear Down)
{
    public IEnumerable<TrainableLinear> Linears => [Query, Key, Value, AttentionOutput, Gate, Up, Down];
}
