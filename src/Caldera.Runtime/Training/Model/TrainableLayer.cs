namespace Caldera.Runtime.Training.Model;

/// <summary>One block's weights for training: the two RMSNorm gains (frozen unless norms train) and the seven matrices.</summary>
internal sealed record TrainableLayer(
    NormGain AttentionNorm,
    TrainableLinear Query,
    TrainableLinear Key,
    TrainableLinear Value,
    TrainableLinear AttentionOutput,
    NormGain FfnNorm,
    TrainableLinear Gate,
    TrainableLinear Up,
    TrainableLinear Down)
{
    public IEnumerable<TrainableLinear> Linears => [Query, Key, Value, AttentionOutput, Gate, Up, Down];
}
