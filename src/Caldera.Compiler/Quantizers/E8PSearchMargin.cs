namespace Caldera.Compiler.Quantizers;

/// <summary>
/// What a certified class search knows about its winner, as computed in fp32: <see cref="Best"/> the winner's
/// squared distance, <see cref="RunnerUp"/> a lower bound on the squared distance of every other (shift, pattern)
/// candidate (the best other candidate, or the winning class's bound on its other permutations), and
/// <see cref="Magnitude"/> the M that bounds the rounding of both (each within <see cref="E8PClassSearch.CertifiedMargin"/>·M / 6).
/// </summary>
internal readonly record struct E8PSearchMargin(float Best, float RunnerUp, float Magnitude);
