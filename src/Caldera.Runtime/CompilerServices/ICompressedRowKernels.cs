using System.ComponentModel;

namespace Caldera.CompilerServices;

/// <summary>
/// The decode-step row kernels of one <see cref="Caldera.Runtime.Inference.CompressedLinear"/>: the seam through which a build swaps
/// the generic kernels (<see cref="Caldera.Runtime.Inference.GenericRowKernels"/>, any shape) for ones generated for a model's exact matrix
/// shapes (constant trip counts the JIT/AOT compiler can unroll and check once). Implementations must compute the
/// same sums as <see cref="Caldera.Runtime.Kernels.CodedRows"/> up to summation order, and must not allocate.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface ICompressedRowKernels
{
    /// <summary>Σ decode(<paramref name="words"/>)·u over one E8P row of Q (u.Length = columns).</summary>
    float DotQ(ReadOnlySpan<ushort> words, ReadOnlySpan<float> u);

    /// <summary>
    /// y[r] = Σ decode(row r)·u over y.Length consecutive E8P rows of Q (<paramref name="words"/>: y.Length rows of
    /// ⌈columns/8⌉ words). The decode step calls this once per chunk of rows, so an implementation can share per-call
    /// work across rows (the generic kernels take the ±¼ shift out of the decode through block sums of u). The
    /// default is <see cref="DotQ"/> per row.
    /// </summary>
    void DotQRows(ReadOnlySpan<ushort> words, ReadOnlySpan<float> u, Span<float> y)
    {
        int perRow = y.IsEmpty ? 0 : words.Length / y.Length;
        for (int r = 0; r < y.Length; r++) y[r] = DotQ(words.Slice(r * perRow, perRow), u);
    }

    /// <summary>
    /// y[r] = ¼·Σ_b s_b·Σ ⟨4·C[w], q⟩ over y.Length consecutive E8P rows of Q against the int8 activation
    /// (<paramref name="q"/>, <paramref name="scales"/>) of <see cref="Caldera.Runtime.Kernels.Int8Activations.Quantize(ReadOnlySpan{float}, Span{sbyte}, Span{float})"/>:
    /// the decode step of a layer with <see cref="Caldera.Runtime.Inference.CompressedLinear.Int8Activations"/> on. Implementations must
    /// return the bits of <see cref="Caldera.Runtime.Kernels.Int8CodedRows"/> (its block sums are exact integers). The default is the
    /// generic kernel.
    /// </summary>
    void DotQRowsInt8(ReadOnlySpan<ushort> words, ReadOnlySpan<sbyte> q, ReadOnlySpan<float> scales, Span<float> y) =>
        Caldera.Runtime.Kernels.Int8CodedRows.DotE8PRows(words, q, scales, y);

    /// <summary>
    /// t[r] = ¼·Σ_b s_b·(A + B/ρ) over t.Length consecutive 4-bit residual rows of R against the int8 activation of
    /// <see cref="Caldera.Runtime.Kernels.Int8Activations.Quantize(ReadOnlySpan{float}, Span{sbyte}, Span{float})"/>: the factor pass of
    /// a decode step with <see cref="Caldera.Runtime.Inference.CompressedLinear.Int8Activations"/> on. Implementations must return the bits
    /// of <see cref="Caldera.Runtime.Kernels.Int8ResidualRows"/>. The default is the generic kernel.
    /// </summary>
    void DotRRowsInt8(ReadOnlySpan<ushort> words, ReadOnlySpan<sbyte> q, ReadOnlySpan<float> scales, Span<float> t) =>
        Caldera.Runtime.Kernels.Int8ResidualRows.DotRows(words, q, scales, t);

    /// <summary>Σ decode(<paramref name="words"/>)·u over one 4-bit residual row of R (u.Length = columns).</summary>
    float DotR(ReadOnlySpan<ushort> words, ReadOnlySpan<float> u);

    /// <summary>z += a·decode(<paramref name="words"/>) over a segment of one 4-bit residual row of Lᵀ (segments start at multiples of 8).</summary>
    void AddL(ReadOnlySpan<ushort> words, float a, Span<float> z);

    /// <summary>
    /// z += Σ_r a[r]·decode(segment of row r of Lᵀ) over all a.Length ranks: row r's segment of 2·⌈z.Length/8⌉ words
    /// starts at r·<paramref name="rowStride"/> in <paramref name="words"/>. The decode step calls this once per block of
    /// output rows, so an implementation can keep z in registers across the ranks (the generic kernels do:
    /// <see cref="Caldera.Runtime.Kernels.ResidualRanks"/>). The default is <see cref="AddL"/> per rank, in rank order.
    /// </summary>
    void AddLRanks(ReadOnlySpan<ushort> words, int rowStride, ReadOnlySpan<float> a, Span<float> z)
    {
        int count = Caldera.Runtime.Compression.E8PResidualLattice.WordCount(z.Length);
        for (int r = 0; r < a.Length; r++) AddL(words.Slice(r * rowStride, count), a[r], z);
    }
}
