using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Caldera.Runtime.Compression;
using Caldera.CompilerServices;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// Products of a code-word row with a vector, decoded on the fly (the decode-step kernels of a compressed matrix):
///   E8P:       Σ_v ⟨C[w_v], u[8v, 8v+8)⟩                       one word w_v per 8 weights
///   residual:  Σ_v ⟨C[w₁] + C[w₂]/ρ, u[8v, 8v+8)⟩               two words per 8 weights (4-bit factors)
///   uniform:   Σ_j (w_j − L)·u_j                                one word per weight
///   axpy:      z[8v, 8v+8) += a·(C[w₁] + C[w₂]/ρ)                 the L·t update of a row block
/// C[w] is the E8P codeword of word w; a row of n weights has ⌈n/8⌉ vectors, the last one partial when 8 ∤ n.
/// </summary>
/// <remarks>
/// One E8P codeword is exactly one Vector256 of floats (two Vector128 on the portable path, <see cref="CodedHalves"/>), so the vector paths decode each word in registers
/// (<see cref="CodedVectors"/>: two L1-resident tables and one FMA) and FMAs it with u; the scalar path is the
/// reference (reads the 2 MiB <see cref="E8PLattice.DecodeTable"/>, sequential float sums, no FMA). Both decode
/// x̂ = q₁ + q₂/ρ correctly rounded, so the decoded values agree bit for bit and only the summation order differs.
/// </remarks>
internal static class CodedRows
{
    private const int D = E8PLattice.Dimension;

    /// <summary>Σ decode(<paramref name="words"/>)·u for an E8P row of u.Length weights.</summary>
    public static float DotE8P(ReadOnlySpan<ushort> words, ReadOnlySpan<float> u) => DotE8P(words, u, KernelPaths.Best);

    /// <summary>
    /// y[r] = Σ decode(row r)·u for y.Length consecutive E8P rows of u.Length weights (<paramref name="words"/> holds
    /// y.Length × ⌈n/8⌉ words). Faster than a <see cref="DotE8P(ReadOnlySpan{ushort}, ReadOnlySpan{float})"/> per row:
    /// the shift term is taken out of the decode through per-call block sums of u.
    /// </summary>
    public static void DotE8PRows(ReadOnlySpan<ushort> words, ReadOnlySpan<float> u, Span<float> y) => DotE8PRows(words, u, y, KernelPaths.Best);

    /// <summary>Σ decode(<paramref name="words"/>)·u for a 4-bit residual-coded row of u.Length weights.</summary>
    public static float DotResidual(ReadOnlySpan<ushort> words, ReadOnlySpan<float> u) => DotResidual(words, u, KernelPaths.Best);

    /// <summary>Σ (w − <paramref name="maxLevel"/>)·u for a uniform row (one word per weight).</summary>
    public static float DotUniform(ReadOnlySpan<ushort> words, int maxLevel, ReadOnlySpan<float> u) => DotUniform(words, maxLevel, u, KernelPaths.Best);

    /// <summary>z += a·decode(<paramref name="words"/>) for a 4-bit residual-coded segment of z.Length weights.</summary>
    public static void AddResidual(ReadOnlySpan<ushort> words, float a, Span<float> z) => AddResidual(words, a, z, KernelPaths.Best);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float DotE8P(ReadOnlySpan<ushort> words, ReadOnlySpan<float> u, KernelPath path)
    {
        RequireWords(words.Length, E8PLattice.VectorCount(u.Length), u.Length);
        ref float table = ref MemoryMarshal.GetReference(E8PLattice.DecodeTable);
        ref ushort w = ref MemoryMarshal.GetReference(words);
        ref float x = ref MemoryMarshal.GetReference(u);
        int full = u.Length / D;
        float sum = 0;
        int v = 0;
        if (path >= KernelPath.Vector256)
        {
            sum = DotE8PVector(words, u, full);
            v = full;
        }
        else if (path == KernelPath.Vector128)
        {
            sum = DotE8PVector128(words, u, full);
            v = full;
        }
        for (; v < full; v++)
            for (int i = 0; i < D; i++) sum += Unsafe.Add(ref table, words[v] * D + i) * Unsafe.Add(ref x, v * D + i);
        for (int i = full * D; i < u.Length; i++) sum += Unsafe.Add(ref table, words[full] * D + i - full * D) * Unsafe.Add(ref x, i);
        return sum;
    }

    /// <summary>
    /// The vector loop of <see cref="DotE8P(ReadOnlySpan{ushort}, ReadOnlySpan{float}, KernelPath)"/> over the first
    /// <paramref name="full"/> vectors. Four words are read as one 64-bit load and each is split into the float
    /// offsets of its table rows by a shift and a mask; four accumulators hide the FMA latency. Per 8 weights:
    /// 3 table loads, 2 FMAs (one decodes, one accumulates) and 4 integer ops. Kept free of calls, or the JIT spills.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe float DotE8PVector(ReadOnlySpan<ushort> words, ReadOnlySpan<float> u, int full)
    {
        fixed (float* patterns = E8PFactoredTables.Patterns, signs = E8PFactoredTables.SignsAndShifts)
        fixed (ushort* w = words)
        fixed (float* x = u)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            int v = 0;
            for (; v + 4 <= full; v += 4)
            {
                ulong four = *(ulong*)(w + v);
                float* xv = x + v * D;
                a0 = Vector256.FusedMultiplyAdd(Decode(patterns, signs, four), Vector256.Load(xv), a0);
                a1 = Vector256.FusedMultiplyAdd(Decode(patterns, signs, four >> 16), Vector256.Load(xv + D), a1);
                a2 = Vector256.FusedMultiplyAdd(Decode(patterns, signs, four >> 32), Vector256.Load(xv + 2 * D), a2);
                a3 = Vector256.FusedMultiplyAdd(Decode(patterns, signs, four >> 48), Vector256.Load(xv + 3 * D), a3);
            }
            for (; v < full; v++) a0 = Vector256.FusedMultiplyAdd(Decode(patterns, signs, w[v]), Vector256.Load(x + v * D), a0);
            return Vector256.Sum((a0 + a1) + (a2 + a3));
        }
    }

    /// <summary>The codeword of the word in the low 16 bits of <paramref name="word"/> (higher bits ignored), as <see cref="CodedVectors.E8P(ushort)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<float> Decode(float* patterns, float* signs, ulong word)
    {
        // Float offsets: pattern row 8·(w ≫ 8) = (w ≫ 5) & 0x7F8, low-byte entry 16·(w & 0xFF) = (w ≪ 4) & 0xFF0.
        float* s = signs + (nuint)((word << 4) & 0xFF0);
        return Vector256.FusedMultiplyAdd(Vector256.Load(patterns + (nuint)((word >> 5) & 0x7F8)), Vector256.Load(s), Vector256.Load(s + D));
    }

    /// <summary>
    /// The portable loop of <see cref="DotE8P(ReadOnlySpan{ushort}, ReadOnlySpan{float}, KernelPath)"/> (NEON on Arm): each
    /// word decodes into two halves (<see cref="CodedHalves"/>), two words per step in four accumulators.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotE8PVector128(ReadOnlySpan<ushort> words, ReadOnlySpan<float> u, int full)
    {
        ref float patterns = ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.Patterns);
        ref float signs = ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.SignsAndShifts);
        ref ushort w = ref MemoryMarshal.GetReference(words);
        ref float x = ref MemoryMarshal.GetReference(u);
        Vector128<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int v = 0;
        for (; v + 2 <= full; v += 2)
        {
            uint first = Unsafe.Add(ref w, v), second = Unsafe.Add(ref w, v + 1);
            nuint at = (nuint)(v * D);
            a0 = Vector128.FusedMultiplyAdd(CodedHalves.E8P(ref patterns, ref signs, first, 0), Vector128.LoadUnsafe(ref x, at), a0);
            a1 = Vector128.FusedMultiplyAdd(CodedHalves.E8P(ref patterns, ref signs, first, 1), Vector128.LoadUnsafe(ref x, at + 4), a1);
            a2 = Vector128.FusedMultiplyAdd(CodedHalves.E8P(ref patterns, ref signs, second, 0), Vector128.LoadUnsafe(ref x, at + 8), a2);
            a3 = Vector128.FusedMultiplyAdd(CodedHalves.E8P(ref patterns, ref signs, second, 1), Vector128.LoadUnsafe(ref x, at + 12), a3);
        }
        if (v < full)
        {
            uint word = Unsafe.Add(ref w, v);
            a0 = Vector128.FusedMultiplyAdd(CodedHalves.E8P(ref patterns, ref signs, word, 0), Vector128.LoadUnsafe(ref x, (nuint)(v * D)), a0);
            a1 = Vector128.FusedMultiplyAdd(CodedHalves.E8P(ref patterns, ref signs, word, 1), Vector128.LoadUnsafe(ref x, (nuint)(v * D + 4)), a1);
        }
        return Vector128.Sum((a0 + a1) + (a2 + a3));
    }

    /// <summary>Block sums of u at most this long go on the stack (n = 32768 columns); longer rows take the per-row kernel.</summary>
    private const int MaxStackBlockSums = 4096;

    internal static void DotE8PRows(ReadOnlySpan<ushort> words, ReadOnlySpan<float> u, Span<float> y, KernelPath path)
    {
        int perRow = E8PLattice.VectorCount(u.Length);
        if (words.Length != (long)perRow * y.Length)
            throw new ArgumentException($"{y.Length} rows of {u.Length} weights have {(long)perRow * y.Length} code words, got {words.Length}.", nameof(words));
        int full = u.Length / D;
        if (path == KernelPath.Scalar || full > MaxStackBlockSums)
        {
            for (int r = 0; r < y.Length; r++) y[r] = DotE8P(words.Slice(r * perRow, perRow), u, path);
            return;
        }
        Span<float> blockSums = stackalloc float[full];
        for (int v = 0; v < full; v++) blockSums[v] = TensorPrimitives.Sum(u.Slice(v * D, D));
        ref float table = ref MemoryMarshal.GetReference(E8PLattice.DecodeTable);
        for (int r = 0; r < y.Length; r++)
        {
            var row = words.Slice(r * perRow, perRow);
            float sum = path == KernelPath.Vector128 ? DotE8PVectorUnshifted128(row, u, blockSums) : DotE8PVectorUnshifted(row, u, blockSums);
            for (int i = full * D; i < u.Length; i++) sum += Unsafe.Add(ref table, row[full] * D + i - full * D) * u[i];
            y[r] = sum;
        }
    }

    /// <summary>
    /// Σ_v ⟨C[w_v], u_v⟩ over the full vectors, split as Σ_v ⟨P̃ ⊙ S, u_v⟩ + Σ_v σ_v·b_v with b_v = Σ u_v (the block
    /// sums): the shift σ_v = ±¼ never enters the decode, which saves a table load per word (the loop is bound by
    /// loads). The shift term runs eight words at a time: bit 0 of each word, moved to the float sign bit, flips b_v.
    /// Eight accumulators keep enough decodes in flight (≈ 15 % faster than four in a stopwatch probe).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe float DotE8PVectorUnshifted(ReadOnlySpan<ushort> words, ReadOnlySpan<float> u, ReadOnlySpan<float> blockSums)
    {
        int full = blockSums.Length;
        fixed (float* patterns = E8PFactoredTables.Patterns, signs = E8PFactoredTables.SignsAndShifts)
        fixed (ushort* w = words)
        fixed (float* x = u, b = blockSums)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
            Vector256<float> shifts = default;
            int v = 0;
            for (; v + 8 <= full; v += 8)
            {
                var flips = CodedVectors.ShiftSignBits(ref w[v]);
                shifts += (Vector256.Load(b + v).AsUInt32() ^ flips).AsSingle();
                ulong low = *(ulong*)(w + v), high = *(ulong*)(w + v + 4);
                float* xv = x + v * D;
                a0 = Vector256.FusedMultiplyAdd(DecodeUnshifted(patterns, signs, low), Vector256.Load(xv), a0);
                a1 = Vector256.FusedMultiplyAdd(DecodeUnshifted(patterns, signs, low >> 16), Vector256.Load(xv + D), a1);
                a2 = Vector256.FusedMultiplyAdd(DecodeUnshifted(patterns, signs, low >> 32), Vector256.Load(xv + 2 * D), a2);
                a3 = Vector256.FusedMultiplyAdd(DecodeUnshifted(patterns, signs, low >> 48), Vector256.Load(xv + 3 * D), a3);
                a4 = Vector256.FusedMultiplyAdd(DecodeUnshifted(patterns, signs, high), Vector256.Load(xv + 4 * D), a4);
                a5 = Vector256.FusedMultiplyAdd(DecodeUnshifted(patterns, signs, high >> 16), Vector256.Load(xv + 5 * D), a5);
                a6 = Vector256.FusedMultiplyAdd(DecodeUnshifted(patterns, signs, high >> 32), Vector256.Load(xv + 6 * D), a6);
                a7 = Vector256.FusedMultiplyAdd(DecodeUnshifted(patterns, signs, high >> 48), Vector256.Load(xv + 7 * D), a7);
            }
            float shifted = 0;
            for (; v < full; v++)
            {
                a0 = Vector256.FusedMultiplyAdd(DecodeUnshifted(patterns, signs, w[v]), Vector256.Load(x + v * D), a0);
                shifted += (w[v] & 1) != 0 ? -b[v] : b[v];
            }
            return Vector256.Sum(((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))) + E8PLattice.Shift * (Vector256.Sum(shifts) + shifted);
        }
    }

    /// <summary>
    /// <see cref="DotE8PVectorUnshifted"/> on 128-bit vectors (NEON on Arm): two half decodes per word, two words per
    /// step in four accumulators; the shift term four words at a time, as there eight.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe float DotE8PVectorUnshifted128(ReadOnlySpan<ushort> words, ReadOnlySpan<float> u, ReadOnlySpan<float> blockSums)
    {
        int full = blockSums.Length;
        ref float patterns = ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.Patterns);
        ref float signs = ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.SignsAndShifts);
        fixed (ushort* w = words)
        fixed (float* x = u, b = blockSums)
        {
            Vector128<float> a0 = default, a1 = default, a2 = default, a3 = default, shifts = default;
            int v = 0;
            for (; v + 4 <= full; v += 4)
            {
                var flips = Vector128.ShiftLeft(Vector128.WidenLower(Vector128.CreateScalar(*(ulong*)(w + v)).AsUInt16()), 31);
                shifts += (Vector128.Load(b + v).AsUInt32() ^ flips).AsSingle();
                for (int k = 0; k < 4; k += 2)
                {
                    uint first = w[v + k], second = w[v + k + 1];
                    float* xv = x + (v + k) * D;
                    a0 = Vector128.FusedMultiplyAdd(CodedHalves.E8PUnshifted(ref patterns, ref signs, first, 0), Vector128.Load(xv), a0);
                    a1 = Vector128.FusedMultiplyAdd(CodedHalves.E8PUnshifted(ref patterns, ref signs, first, 1), Vector128.Load(xv + 4), a1);
                    a2 = Vector128.FusedMultiplyAdd(CodedHalves.E8PUnshifted(ref patterns, ref signs, second, 0), Vector128.Load(xv + 8), a2);
                    a3 = Vector128.FusedMultiplyAdd(CodedHalves.E8PUnshifted(ref patterns, ref signs, second, 1), Vector128.Load(xv + 12), a3);
                }
            }
            float shifted = 0;
            for (; v < full; v++)
            {
                a0 = Vector128.FusedMultiplyAdd(CodedHalves.E8PUnshifted(ref patterns, ref signs, w[v], 0), Vector128.Load(x + v * D), a0);
                a1 = Vector128.FusedMultiplyAdd(CodedHalves.E8PUnshifted(ref patterns, ref signs, w[v], 1), Vector128.Load(x + v * D + 4), a1);
                shifted += (w[v] & 1) != 0 ? -b[v] : b[v];
            }
            return Vector128.Sum((a0 + a1) + (a2 + a3)) + E8PLattice.Shift * (Vector128.Sum(shifts) + shifted);
        }
    }

    /// <summary>P̃[w ≫ 8] ⊙ S[w's signs]: the codeword of the low 16 bits of <paramref name="word"/> less its shift.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<float> DecodeUnshifted(float* patterns, float* signs, ulong word) =>
        Vector256.Load(patterns + (nuint)((word >> 5) & 0x7F8)) * Vector256.Load(signs + (nuint)((word << 4) & 0xFF0));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float DotResidual(ReadOnlySpan<ushort> words, ReadOnlySpan<float> u, KernelPath path)
    {
        RequireWords(words.Length, E8PResidualLattice.WordCount(u.Length), u.Length);
        ref float table = ref MemoryMarshal.GetReference(E8PLattice.DecodeTable);
        ref ushort w = ref MemoryMarshal.GetReference(words);
        ref float x = ref MemoryMarshal.GetReference(u);
        int full = u.Length / D;
        float sum = 0;
        int v = 0;
        if (path >= KernelPath.Vector256)
        {
            ref float patterns = ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.Patterns);
            ref float signs = ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.SignsAndShifts);
            Vector256<float> a0 = default, a1 = default;
            for (; v + 2 <= full; v += 2)
            {
                a0 = Vector256.FusedMultiplyAdd(CodedVectors.Residual(ref patterns, ref signs, Unsafe.Add(ref w, 2 * v), Unsafe.Add(ref w, 2 * v + 1)),
                    Vector256.LoadUnsafe(ref x, (nuint)(v * D)), a0);
                a1 = Vector256.FusedMultiplyAdd(CodedVectors.Residual(ref patterns, ref signs, Unsafe.Add(ref w, 2 * v + 2), Unsafe.Add(ref w, 2 * v + 3)),
                    Vector256.LoadUnsafe(ref x, (nuint)(v * D + D)), a1);
            }
            for (; v < full; v++)
                a0 = Vector256.FusedMultiplyAdd(CodedVectors.Residual(ref patterns, ref signs, Unsafe.Add(ref w, 2 * v), Unsafe.Add(ref w, 2 * v + 1)),
                    Vector256.LoadUnsafe(ref x, (nuint)(v * D)), a0);
            sum = Vector256.Sum(a0 + a1);
        }
        else if (path == KernelPath.Vector128)
        {
            ref float patterns = ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.Patterns);
            ref float signs = ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.SignsAndShifts);
            Vector128<float> a0 = default, a1 = default;
            for (; v < full; v++)
            {
                uint first = Unsafe.Add(ref w, 2 * v), second = Unsafe.Add(ref w, 2 * v + 1);
                a0 = Vector128.FusedMultiplyAdd(CodedHalves.Residual(ref patterns, ref signs, first, second, 0), Vector128.LoadUnsafe(ref x, (nuint)(v * D)), a0);
                a1 = Vector128.FusedMultiplyAdd(CodedHalves.Residual(ref patterns, ref signs, first, second, 1), Vector128.LoadUnsafe(ref x, (nuint)(v * D + 4)), a1);
            }
            sum = Vector128.Sum(a0 + a1);
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
        else if (path == KernelPath.Vector128)
        {
            Vector128<float> acc = default, offset = Vector128.Create((float)maxLevel);
            for (; j + D <= u.Length; j += D)
            {
                var (low, high) = Vector128.Widen(Vector128.LoadUnsafe(ref w, (nuint)j));
                acc = Vector128.FusedMultiplyAdd(Vector128.ConvertToSingle(low.AsInt32()) - offset, Vector128.LoadUnsafe(ref x, (nuint)j), acc);
                acc = Vector128.FusedMultiplyAdd(Vector128.ConvertToSingle(high.AsInt32()) - offset, Vector128.LoadUnsafe(ref x, (nuint)j + 4), acc);
            }
            sum = Vector128.Sum(acc);
        }
        for (; j < u.Length; j++) sum += (Unsafe.Add(ref w, j) - maxLevel) * Unsafe.Add(ref x, j);
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void AddResidual(ReadOnlySpan<ushort> words, float a, Span<float> z, KernelPath path)
    {
        RequireWords(words.Length, E8PResidualLattice.WordCount(z.Length), z.Length);
        ref float table = ref MemoryMarshal.GetReference(E8PLattice.DecodeTable);
        ref ushort w = ref MemoryMarshal.GetReference(words);
        ref float y = ref MemoryMarshal.GetReference(z);
        int full = z.Length / D;
        int v = 0;
        if (path >= KernelPath.Vector256)
        {
            ref float patterns = ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.Patterns);
            ref float signs = ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.SignsAndShifts);
            var scale = Vector256.Create(a);
            for (; v < full; v++)
                Vector256.FusedMultiplyAdd(CodedVectors.Residual(ref patterns, ref signs, Unsafe.Add(ref w, 2 * v), Unsafe.Add(ref w, 2 * v + 1)), scale,
                    Vector256.LoadUnsafe(ref y, (nuint)(v * D))).StoreUnsafe(ref y, (nuint)(v * D));
        }
        else if (path == KernelPath.Vector128)
        {
            ref float patterns = ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.Patterns);
            ref float signs = ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.SignsAndShifts);
            var scale = Vector128.Create(a);
            for (; v < full; v++)
            {
                uint first = Unsafe.Add(ref w, 2 * v), second = Unsafe.Add(ref w, 2 * v + 1);
                nuint at = (nuint)(v * D);
                Vector128.FusedMultiplyAdd(CodedHalves.Residual(ref patterns, ref signs, first, second, 0), scale, Vector128.LoadUnsafe(ref y, at)).StoreUnsafe(ref y, at);
                Vector128.FusedMultiplyAdd(CodedHalves.Residual(ref patterns, ref signs, first, second, 1), scale, Vector128.LoadUnsafe(ref y, at + 4)).StoreUnsafe(ref y, at + 4);
            }
        }
        for (; v < full; v++)
            for (int i = 0; i < D; i++) Unsafe.Add(ref y, v * D + i) += a * Residual(ref table, words, v, i);
        for (int i = full * D; i < z.Length; i++) Unsafe.Add(ref y, i) += a * Residual(ref table, words, full, i - full * D);
    }

    /// <summary>Writes the E8P row of y.Length weights to <paramref name="y"/>, bit for bit as <see cref="E8PLattice.DecodeRow"/>.</summary>
    internal static void DecodeE8P(ReadOnlySpan<ushort> words, Span<float> y, KernelPath path)
    {
        RequireWords(words.Length, E8PLattice.VectorCount(y.Length), y.Length);
        int full = path == KernelPath.Scalar ? 0 : y.Length / D;
        ref float z = ref MemoryMarshal.GetReference(y);
        ref float patterns = ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.Patterns);
        ref float signs = ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.SignsAndShifts);
        for (int v = 0; v < full; v++)
        {
            if (path == KernelPath.Vector128)
            {
                CodedHalves.E8P(ref patterns, ref signs, words[v], 0).StoreUnsafe(ref z, (nuint)(v * D));
                CodedHalves.E8P(ref patterns, ref signs, words[v], 1).StoreUnsafe(ref z, (nuint)(v * D + 4));
            }
            else CodedVectors.E8P(words[v]).StoreUnsafe(ref z, (nuint)(v * D));
        }
        E8PLattice.DecodeRow(words[full..], y[(full * D)..]);
    }

    /// <summary>Writes the 4-bit residual row of y.Length weights to <paramref name="y"/>, bit for bit as <see cref="E8PResidualLattice.DecodeRow"/>.</summary>
    internal static void DecodeResidual(ReadOnlySpan<ushort> words, Span<float> y, KernelPath path)
    {
        RequireWords(words.Length, E8PResidualLattice.WordCount(y.Length), y.Length);
        int full = path == KernelPath.Scalar ? 0 : y.Length / D;
        ref float z = ref MemoryMarshal.GetReference(y);
        ref float patterns = ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.Patterns);
        ref float signs = ref MemoryMarshal.GetArrayDataReference(E8PFactoredTables.SignsAndShifts);
        for (int v = 0; v < full; v++)
        {
            if (path == KernelPath.Vector128)
            {
                CodedHalves.Residual(ref patterns, ref signs, words[2 * v], words[2 * v + 1], 0).StoreUnsafe(ref z, (nuint)(v * D));
                CodedHalves.Residual(ref patterns, ref signs, words[2 * v], words[2 * v + 1], 1).StoreUnsafe(ref z, (nuint)(v * D + 4));
            }
            else CodedVectors.Residual(words[2 * v], words[2 * v + 1]).StoreUnsafe(ref z, (nuint)(v * D));
        }
        E8PResidualLattice.DecodeRow(words[(2 * full)..], y[(full * D)..]);
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
