using Caldera.Runtime.Incoherence;

namespace Caldera.Runtime.Compression;

/// <summary>
/// One orthonormal transform side of a compressed matrix, u = U_nᵀ(S ⊙ x): the random signs S, and U_n's mixing
/// block A (U_n = A ⊗ H_P/√P). A Hadamard block is rebuilt from its order; a seeded fallback block is stored,
/// because its floating-point construction is not guaranteed bit-identical across platforms.
/// </summary>
public sealed record TransformData(int Length, int BlockOrder, bool IsHadamard, ReadOnlyMemory<float> Signs, ReadOnlyMemory<float> FallbackBlock)
{
    /// <summary>The stored form of <paramref name="transform"/>: its signs, and its block only when it is a fallback.</summary>
    public static TransformData From(RandomizedHadamard transform)
    {
        var u = transform.Transform;
        return new TransformData(u.Length, u.BlockOrder, u.IsHadamard, transform.Signs.ToArray(),
            u.IsHadamard ? ReadOnlyMemory<float>.Empty : u.Block.ToArray());
    }

    /// <summary>Rebuilds the transform; throws <see cref="ArgumentException"/> when the description is inconsistent.</summary>
    public RandomizedHadamard ToRandomizedHadamard() =>
        new(HadamardTransform.FromBlock(Length, BlockOrder, IsHadamard, FallbackBlock.Span), Signs.ToArray());
}
