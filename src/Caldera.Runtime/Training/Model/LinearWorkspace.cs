namespace Caldera.Runtime.Training.Model;

/// <summary>
/// The buffers one <see cref="TrainableLinear"/> call works in, shared by every matrix of a model (they run one at a
/// time): u = U_nᵀ(SU ⊙ x) (T × n), dz and du (T × max(m, n)), and the rank products s, w (T × k).
/// </summary>
internal sealed class LinearWorkspace(int tokens, int width, int rank)
{
    public float[] U { get; } = new float[(long)tokens * width];
    public float[] Dz { get; } = new float[(long)tokens * width];
    public float[] Du { get; } = new float[(long)tokens * width];
    public float[] S { get; } = new float[(long)tokens * Math.Max(rank, 1)];
    public float[] W { get; } = new float[(long)tokens * Math.Max(rank, 1)];
}
