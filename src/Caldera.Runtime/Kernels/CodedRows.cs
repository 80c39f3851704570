using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Caldera.Runtime.Compression;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// Products of a code-word row with a vector, decoded on the fly (the decode-step kernels of a compressed layer):
///   E8P:       Σ_v ⟨C[w_v], u[8v, 8v+8)⟩                       one word w_v per 8 weights
///   residual:  Σ_v ⟨C[w₁] + C[w₂]/ρ, u[8v, 8v+8)⟩               two words per 8 weights (4-bit factors)
///   uniform:   Σ_j (w_j − L)·u_j                                one word per weight
///   axpy:      z[8v, 8v+8) += a·(C[w₁] + C[w₂]/ρ)                 the L·t update of a row block
/// C is the 2 MiB E8P decode table; a row of n weights has ⌈n/8⌉ vectors, the last one partial when 8 ∤ n.
/// </summary>
/// <remarks>
/// One E8P codeword is exactly one Vector256 of floats, so the vector path loads each codeword straight from
/// the table into a register and FMAs it with u; the scalar path is the reference (sequential float sums,
/// no FMA). Both decode x̂ = q₁ + q₂/ρ with a correctly rounded division, so the decoded values agree bit for
/// bit and only the summation order differs.
/// </remarks>
public static class CodedRows
{
    private const int D = E8PLattice.Dimension;

    /// <summary>Σ decode(<paramref name="words"/>)·u for an E8P row of u.Length weights.</summary>
    public static float DotE8P(ReadOnlySpan<ushort> words, ReadOnlySpan<float> u) => DotE8P(words, u, KernelPaths.Best);

    /// <summary>Σ decode(<paramref name="words"/>)·u for a 4-bit residual-coded row of u.Length weights.</summary>
    public static float DotResidual(ReadOnlySpan<ushort> words, ReadOnlySpan<float> u) => DotResidual(words, u, KernelPaths.Best);

    /// <summary>Σ (w − <paramref name="maxLevel"/>)·u for a uniform row (one word per weight).</summary>
    public static float DotUniform(ReadOnlySpan<ushort> words, int maxLevel, ReadOnlySpan<float> u) => DotUniform(words, maxLevel, u, KernelPaths.Best);

    /// <summary>z += a·decode(<paramref name="words"/>) for a 4-bit residual-coded segment of z.Length weights.</summary>
    public static void AddResidual(ReadOnlySpan<ushort> words, float a, Span<float> z) => AddResidual(words, a, z, KernelPaths.Best);

    internal static float DotE8P(ReadOnlySpan<ushort> words, ReadOnlySpan<float> u, KernelPath path)
    {
        RequireWords(words.Length, E8PLattice.VectorCount(u.Length), u.Length);
        ref float table = ref MemoryMarshal.GetReference(E8PLattice.DecodeTable);
        ref float x = ref MemoryMarshal.GetReference(u);
        int full = u.Length / D;
        float sum = 0;
        int v = 0;
        if (path >= KernelPath.Vector256)
        {
            Vector256<float> acc = default;
            for (; v < full; v++)
                acc = Vector256.FusedMultiplyAdd(CodedVectors.E8P(words[v]), Vector256.LoadUnsafe(ref x, (nuint)(v * D)), acc);
            sum = Vector256.Sum(acc);
        }
        for (; v < full; v++)
            for (int i = 0; i < D; i++) sum += Unsafe.Add(ref table, words[v] * D + i) * Unsafe.Add(ref x, v * D + i);
        for (int i = full * D; i < u.Length; i++) sum += Unsafe.Add(ref table, words[full] * D + i - full * D) * Unsafe.Add(ref x, i);
        return sum;
    }

    internal static float DotResidual(ReadOnlySpan<ushort> words, ReadOnlySpan<float> u, KernelPath path)
    {
        RequireWords(words.Length, E8PResidualLattice.WordCount(u.Length), u.Length);
        ref float table = ref MemoryMarshal.GetReference(E8PLattice.DecodeTable);
        ref float x = ref MemoryMarshal.GetReference(u);
        int full = u.Length / D;
        float sum = 0;
        int v = 0;
        if (path >= KernelPath.Vector256)
        {
            Vector256<float> acc = default;
            for (; v < full; v++)
                acc = Vector256.FusedMultiplyAdd(CodedVectors.Residual(words[2 * v], words[2 * v + 1]), Vector256.LoadUnsafe(ref x, (nuint)(v * D)), acc);
            sum = Vector256.Sum(acc);
        }
        for (; v < full; v++)
            for (int i = 0; i < D; i++) sum += Residual(ref table, words, v, i) * Unsafe.Add(ref x, v * D + i);
        for (int i = full * D; i < u.Length; i++) sum += Residual(ref table, words, full, i - full * D) * Unsafe.Add(ref x, i);
        return sum;
    }

    internal static float DotUniform(ReadOnlySpan<ushort> words, int maxLevel, ReadOnlySpan<float> u, KernelPath path)
    {
        RequireWords(words.Length, u.Length, u.Length);
        ref ushort w = ref MemoryMarshal.GetReference(words);
        ref float x = ref MemoryMarshal.GetReference(u);
        float sum = 0;
        int j = 0;
        if (path >= KernelPath.Vector256)
        {
            Vector256<float> acc = default, offset = Vector256.Create((float)maxLevel);
            for (; j + D <= u.Length; j += D)
            {
                var (low, high) = Vector128.Widen(Vector128.LoadUnsafe(ref w, (nuint)j));
                var levels = Vector256.ConvertToSingle(Vector256.Create(low, high).AsInt32()) - offset;
                acc = Vector256.FusedMultiplyAdd(levels, Vector256.LoadUnsafe(ref x, (nuint)j), acc);
            }
            sum = Vector256.Sum(acc);
        }
        for (; j < u.Length; j++) sum += (Unsafe.Add(ref w, j) - maxLevel) * Unsafe.Add(ref x, j);
        return sum;
    }

    internal static void AddResidual(ReadOnlySpan<ushort> words, float a, Span<float> z, KernelPath path)
    {
        RequireWords(words.Length, E8PResidualLattice.WordCount(z.Length), z.Length);
        ref float table = ref MemoryMarshal.GetReference(E8PLattice.DecodeTable);
        ref float y = ref MemoryMarshal.GetReference(z);
        int full = z.Length / D;
        int v = 0;
        if (path >= KernelPath.Vector256)
        {
            var scale = Vector256.Create(a);
            for (; v < full; v++)
                Vector256.FusedMultiplyAdd(CodedVectors.Residual(words[2 * v], words[2 * v + 1]), scale, Vector256.LoadUnsafe(ref y, (nuint)(v * D))).StoreUnsafe(ref y, (nuint)(v * D));
        }
        for (; v < full; v++)
            for (int i = 0; i < D; i++) Unsafe.Add(ref y, v * D + i) += a * Residual(ref table, words, v, i);
        for (int i = full * D; i < z.Length; i++) Unsafe.Add(ref y, i) += a * Residual(ref table, words, full, i - full * D);
    }

    /// <summary>Entry i of vector v of a residual-coded row: q₁ + q₂/ρ, as <see cref="E8PResidualLattice"/> decodes it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Residual(ref float table, ReadOnlySpan<ushort> words, int v, int i) =>
        Unsafe.Add(ref table, words[2 * v] * D + i) + Unsafe.Add(ref table, words[2 * v + 1] * D + i) / E8PResidualLattice.ResidualScale;

    private static void RequireWords(int actual, int expected, int length)
    {
        if (actual != expected)
            throw new ArgumentException($"a row of {length} weights has {expected} code words, got {actual}.", "words");
    }
}
