using Caldera.Runtime.Incoherence;

namespace Caldera.Runtime.Compression;

/// <summary>
/// One orthonormal transform side of a compressed matrix, u = U_nᵀ(S ⊙ x): the random signs S, and U_n's mixing
/// block A (U_n = A ⊗ H_P/√P). A Hadamard block is rebuilt from its order; a seeded fallback block is stored,
/// because its floating-point construction is not guaranteed bit-identical across platforms.
/// </summary>
internal sealed record TransformData(int Length, int BlockOrder, bool IsHadamard, ReadOnlyMemory<float> Signs, ReadOnlyMemory<float> FallbackBlock)
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
        Built.GetValue(this, t => new(HadamardTransform.FromBlock(t.Length, t.BlockOrder, t.IsHadamard, t.FallbackBlock.Span), t.Signs.ToArray()));

    /// <summary>
    /// The transform built for each instance: immutable, so the matrices that share a <see cref="TransformData"/> (a file's
    /// reader gives every matrix naming the same sections one) share one, built once per model rather than per matrix.
    /// </summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<TransformData, RandomizedHadamard> Built = [];

    /// <summary>Stored bits: one per sign, and the fallback block in fp32.</summary>
    public long StoredBits => Length + 32L * FallbackBlock.Length;

    /// <summary>
    /// A key equal for transforms with identical stored bytes. Every matrix of one dimension draws the same signs
    /// and block from the same seed, so a model stores each distinct transform once (format and bit counts alike).
    /// </summary>
    public string ContentKey()
    {
        var signs = Formats.BitPacking.PackSigns(Signs.Span);
        var block = System.Runtime.InteropServices.MemoryMarshal.AsBytes(FallbackBlock.Span);
        return $"{Length}/{BlockOrder}/{IsHadamard}/{Convert.ToBase64String(signs)}/{Convert.ToBase64String(block)}";
    }
}
