namespace Caldera.Runtime.Inference;

/// <summary>
/// The decode-step row kernels of one <see cref="CompressedLinearLayer"/>: the seam through which a build swaps
/// the generic kernels (<see cref="GenericRowKernels"/>, any shape) for ones generated for a model's exact matrix
/// shapes (constant trip counts the JIT/AOT compiler can unroll and check once). Implementations must compute the
/// same sums as <see cref="Kernels.CodedRows"/> up to summation order, and must not allocate.
/// </summary>
public interface ICompressedRowKernels
{
    /// <summary>Σ decode(<paramref name="words"/>)·u over one E8P row of Q (u.Length = columns).</summary>
    float DotQ(ReadOnlySpan<ushort> words, ReadOnlySpan<float> u);

    /// <summary>Σ decode(<paramref name="words"/>)·u over one 4-bit residual row of R (u.Length = columns).</summary>
    float DotR(ReadOnlySpan<ushort> words, ReadOnlySpan<float> u);

    /// <summary>z += a·decode(<paramref name="words"/>) over a segment of one 4-bit residual row of Lᵀ (segments start at multiples of 8).</summary>
    void AddL(ReadOnlySpan<ushort> words, float a, Span<float> z);
}
