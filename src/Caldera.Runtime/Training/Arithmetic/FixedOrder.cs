using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Training.Arithmetic;

/// <summary>
/// The sums training runs on, in an order fixed by the lengths alone. TensorPrimitives may align its reductions to the
/// address of the data, so the same dot product of two copies can round differently; a gradient summed that way would
/// change with where the garbage collector put a buffer, and two runs of one training job would write different
/// adapters. Here lane j of sixteen accumulates elements i ≡ j (mod 16) in index order, each step one fused
/// multiply-add (a·b + acc rounded once), the lanes are combined in one fixed tree and the tail is added last, again
/// fused, so a result depends only on the values.
/// </summary>
/// <remarks>
/// Sixteen lanes are one Vector512, two Vector256 or four Vector128 accumulators: each lane's chain is the same on
/// every path, so every path gives the same bits (<see cref="KernelPath"/>; tests pin each against the scalar loop).
/// Fused multiply-add is one rounding by definition, so it gives the same bits on every machine that has it (every
/// x86-64-v3 and every Arm64 core) — unlike a separate multiply and add, which a compiler may or may not contract.
/// Where the hardware has no FMA (x86-64 before Haswell and Piledriver), <see cref="Vector512.FusedMultiplyAdd"/> and
/// <see cref="MathF.FusedMultiplyAdd"/> fall back to a correctly rounded software fma: the same bits, many times slower.
/// </remarks>
internal static class FixedOrder
{
    /// <summary>The lanes of the order: element i accumulates into lane i mod 16.</summary>
    public const int Lanes = 16;

    /// <summary>Σ a_i·b_i   a, b: n.</summary>
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => Dot(a, b, KernelPaths.Best);

    /// <inheritdoc cref="Dot(ReadOnlySpan{float}, ReadOnlySpan{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b, KernelPath path)
    {
        if (a.Length != b.Length) throw new ArgumentException($"dot of {a.Length} and {b.Length} values", nameof(b));
        ref float pa = ref MemoryMarshal.GetReference(a);
        ref float pb = ref MemoryMarshal.GetReference(b);
        int n = a.Length, body = n / Lanes * Lanes;
        float sum;
        if (path >= KernelPath.Vector512)
        {
            var acc = Vector512<float>.Zero;
            for (int i = 0; i < body; i += Lanes)
                acc = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref pa, (nuint)i), Vector512.LoadUnsafe(ref pb, (nuint)i), acc);
            sum = Combine(acc.GetLower(), acc.GetUpper());
        }
        else if (path >= KernelPath.Vector256)
        {
            Vector256<float> lo = Vector256<float>.Zero, hi = Vector256<float>.Zero;
            for (int i = 0; i < body; i += Lanes)
            {
                lo = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref pa, (nuint)i), Vector256.LoadUnsafe(ref pb, (nuint)i), lo);
                hi = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref pa, (nuint)(i + 8)), Vector256.LoadUnsafe(ref pb, (nuint)(i + 8)), hi);
            }
            sum = Combine(lo, hi);
        }
        else if (path >= KernelPath.Vector128)
        {
            Vector128<float> v0 = Vector128<float>.Zero, v1 = v0, v2 = v0, v3 = v0;
            for (int i = 0; i < body; i += Lanes)
            {
                v0 = Vector128.FusedMultiplyAdd(Vector128.LoadUnsafe(ref pa, (nuint)i), Vector128.LoadUnsafe(ref pb, (nuint)i), v0);
                v1 = Vector128.FusedMultiplyAdd(Vector128.LoadUnsafe(ref pa, (nuint)(i + 4)), Vector128.LoadUnsafe(ref pb, (nuint)(i + 4)), v1);
                v2 = Vector128.FusedMultiplyAdd(Vector128.LoadUnsafe(ref pa, (nuint)(i + 8)), Vector128.LoadUnsafe(ref pb, (nuint)(i + 8)), v2);
                v3 = Vector128.FusedMultiplyAdd(Vector128.LoadUnsafe(ref pa, (nuint)(i + 12)), Vector128.LoadUnsafe(ref pb, (nuint)(i + 12)), v3);
            }
            sum = Combine((v0 + v2) + (v1 + v3));
        }
        else
        {
            Span<float> lanes = stackalloc float[Lanes];
            lanes.Clear();
            for (int i = 0; i < body; i++) lanes[i % Lanes] = MathF.FusedMultiplyAdd(Unsafe.Add(ref pa, i), Unsafe.Add(ref pb, i), lanes[i % Lanes]);
            sum = Combine(lanes);
        }
        for (int i = body; i < n; i++) sum = MathF.FusedMultiplyAdd(Unsafe.Add(ref pa, i), Unsafe.Add(ref pb, i), sum);
        return sum;
    }

    /// <summary>
    /// The sixteen <see cref="Dot"/>s of four rows with four tokens, dots[4·r + t] = Σ_i rows[r·n + i]·tokens[t·n + i],
    /// each bit for bit its own Dot: rows and tokens each 4 × n, row-major.
    /// </summary>
    /// <remarks>
    /// A lone Dot is one chain of dependent fused multiply-adds and loads two vectors per one; a tile of four by four
    /// runs sixteen independent chains on eight loads (the Vector512 path keeps all sixteen accumulators in registers,
    /// which AVX-512's 32 registers hold; the Vector256 path runs it as four 2 × 2 tiles to fit AVX2's 16).
    /// </remarks>
    public static void Dots4x4(ReadOnlySpan<float> rows, ReadOnlySpan<float> tokens, int n, Span<float> dots) =>
        Dots4x4(rows, tokens, n, dots, KernelPaths.Best);

    /// <inheritdoc cref="Dots4x4(ReadOnlySpan{float}, ReadOnlySpan{float}, int, Span{float})"/>
    public static void Dots4x4(ReadOnlySpan<float> rows, ReadOnlySpan<float> tokens, int n, Span<float> dots, KernelPath path) =>
        Dots4x4(rows, n, tokens, n, n, dots, path);

    /// <summary>
    /// As <see cref="Dots4x4(ReadOnlySpan{float}, ReadOnlySpan{float}, int, Span{float})"/> with rows
    /// <paramref name="rowStride"/> and tokens <paramref name="tokenStride"/> floats apart (attention's heads within a token).
    /// </summary>
    public static void Dots4x4(ReadOnlySpan<float> rows, int rowStride, ReadOnlySpan<float> tokens, int tokenStride, int n, Span<float> dots) =>
        Dots4x4(rows, rowStride, tokens, tokenStride, n, dots, KernelPaths.Best);

    /// <inheritdoc cref="Dots4x4(ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, int, Span{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dots4x4(ReadOnlySpan<float> rows, int rowStride, ReadOnlySpan<float> tokens, int tokenStride, int n, Span<float> dots, KernelPath path)
    {
        if (rows.Length < 3L * rowStride + n || tokens.Length < 3L * tokenStride + n || dots.Length < 16)
            throw new ArgumentException($"a 4×4 tile of length {n} needs 4 rows {rowStride} apart, 4 tokens {tokenStride} apart and 16 dots; got {rows.Length}, {tokens.Length} and {dots.Length}");
        if (path >= KernelPath.Vector512) Dots4x4Vector512(rows, rowStride, tokens, tokenStride, n, dots);
        else if (path >= KernelPath.Vector256)
            for (int r = 0; r < 4; r += 2)
                for (int t = 0; t < 4; t += 2) Dots2x2Vector256(rows, rowStride, tokens, tokenStride, n, r, t, dots);
        else
            for (int r = 0; r < 4; r++)
                for (int t = 0; t < 4; t++) dots[4 * r + t] = Dot(rows.Slice(r * rowStride, n), tokens.Slice(t * tokenStride, n), path);
    }

    private static void Dots4x4Vector512(ReadOnlySpan<float> rows, int rowStride, ReadOnlySpan<float> tokens, int tokenStride, int n, Span<float> dots)
    {
        ref float m0 = ref MemoryMarshal.GetReference(rows);
        ref float m1 = ref Unsafe.Add(ref m0, rowStride);
        ref float m2 = ref Unsafe.Add(ref m1, rowStride);
        ref float m3 = ref Unsafe.Add(ref m2, rowStride);
        ref float u0 = ref MemoryMarshal.GetReference(tokens);
        ref float u1 = ref Unsafe.Add(ref u0, tokenStride);
        ref float u2 = ref Unsafe.Add(ref u1, tokenStride);
        ref float u3 = ref Unsafe.Add(ref u2, tokenStride);
        int body = n / Lanes * Lanes;
        var z = Vector512<float>.Zero;
        Vector512<float> a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
        Vector512<float> a20 = z, a21 = z, a22 = z, a23 = z, a30 = z, a31 = z, a32 = z, a33 = z;
        for (int i = 0; i < body; i += Lanes)
        {
            var x0 = Vector512.LoadUnsafe(ref u0, (nuint)i);
            var x1 = Vector512.LoadUnsafe(ref u1, (nuint)i);
            var x2 = Vector512.LoadUnsafe(ref u2, (nuint)i);
            var x3 = Vector512.LoadUnsafe(ref u3, (nuint)i);
            var w = Vector512.LoadUnsafe(ref m0, (nuint)i);
            a00 = Vector512.FusedMultiplyAdd(w, x0, a00); a01 = Vector512.FusedMultiplyAdd(w, x1, a01);
            a02 = Vector512.FusedMultiplyAdd(w, x2, a02); a03 = Vector512.FusedMultiplyAdd(w, x3, a03);
            w = Vector512.LoadUnsafe(ref m1, (nuint)i);
            a10 = Vector512.FusedMultiplyAdd(w, x0, a10); a11 = Vector512.FusedMultiplyAdd(w, x1, a11);
            a12 = Vector512.FusedMultiplyAdd(w, x2, a12); a13 = Vector512.FusedMultiplyAdd(w, x3, a13);
            w = Vector512.LoadUnsafe(ref m2, (nuint)i);
            a20 = Vector512.FusedMultiplyAdd(w, x0, a20); a21 = Vector512.FusedMultiplyAdd(w, x1, a21);
            a22 = Vector512.FusedMultiplyAdd(w, x2, a22); a23 = Vector512.FusedMultiplyAdd(w, x3, a23);
            w = Vector512.LoadUnsafe(ref m3, (nuint)i);
            a30 = Vector512.FusedMultiplyAdd(w, x0, a30); a31 = Vector512.FusedMultiplyAdd(w, x1, a31);
            a32 = Vector512.FusedMultiplyAdd(w, x2, a32); a33 = Vector512.FusedMultiplyAdd(w, x3, a33);
        }
        dots[0] = Tail(a00, ref m0, ref u0, body, n); dots[1] = Tail(a01, ref m0, ref u1, body, n);
        dots[2] = Tail(a02, ref m0, ref u2, body, n); dots[3] = Tail(a03, ref m0, ref u3, body, n);
        dots[4] = Tail(a10, ref m1, ref u0, body, n); dots[5] = Tail(a11, ref m1, ref u1, body, n);
        dots[6] = Tail(a12, ref m1, ref u2, body, n); dots[7] = Tail(a13, ref m1, ref u3, body, n);
        dots[8] = Tail(a20, ref m2, ref u0, body, n); dots[9] = Tail(a21, ref m2, ref u1, body, n);
        dots[10] = Tail(a22, ref m2, ref u2, body, n); dots[11] = Tail(a23, ref m2, ref u3, body, n);
        dots[12] = Tail(a30, ref m3, ref u0, body, n); dots[13] = Tail(a31, ref m3, ref u1, body, n);
        dots[14] = Tail(a32, ref m3, ref u2, body, n); dots[15] = Tail(a33, ref m3, ref u3, body, n);
    }

    /// <summary>
    /// The twenty-four <see cref="Dot"/>s of six rows with four tokens, dots[4·r + t] = Σ_i rows[r·rowStride + i]·tokens[t·tokenStride + i],
    /// each bit for bit its own Dot.
    /// </summary>
    /// <remarks>
    /// Ten loads per twenty-four fused multiply-adds where <see cref="Dots4x4(ReadOnlySpan{float}, ReadOnlySpan{float}, int, Span{float})"/>
    /// takes eight per sixteen: on Vector512 twenty-four accumulators, six row vectors and one token vector use 31 of
    /// AVX-512's 32 registers (the float prefill's tile). Other paths run it as a 4 × 4 tile and a 2 × 4 one.
    /// </remarks>
    public static void Dots6x4(ReadOnlySpan<float> rows, int rowStride, ReadOnlySpan<float> tokens, int tokenStride, int n, Span<float> dots) =>
        Dots6x4(rows, rowStride, tokens, tokenStride, n, dots, KernelPaths.Best);

    /// <inheritdoc cref="Dots6x4(ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, int, Span{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dots6x4(ReadOnlySpan<float> rows, int rowStride, ReadOnlySpan<float> tokens, int tokenStride, int n, Span<float> dots, KernelPath path)
    {
        if (rows.Length < 5L * rowStride + n || tokens.Length < 3L * tokenStride + n || dots.Length < 24)
            throw new ArgumentException($"a 6×4 tile of length {n} needs 6 rows {rowStride} apart, 4 tokens {tokenStride} apart and 24 dots; got {rows.Length}, {tokens.Length} and {dots.Length}");
        if (path >= KernelPath.Vector512)
        {
            Dots6x4Vector512(rows, rowStride, tokens, tokenStride, n, dots);
            return;
        }
        Dots4x4(rows, rowStride, tokens, tokenStride, n, dots, path);
        if (path >= KernelPath.Vector256)
            for (int t = 0; t < 4; t += 2) Dots2x2Vector256(rows, rowStride, tokens, tokenStride, n, 4, t, dots);
        else
            for (int r = 4; r < 6; r++)
                for (int t = 0; t < 4; t++) dots[4 * r + t] = Dot(rows.Slice(r * rowStride, n), tokens.Slice(t * tokenStride, n), path);
    }

    private static void Dots6x4Vector512(ReadOnlySpan<float> rows, int rowStride, ReadOnlySpan<float> tokens, int tokenStride, int n, Span<float> dots)
    {
        ref float m0 = ref MemoryMarshal.GetReference(rows);
        ref float m1 = ref Unsafe.Add(ref m0, rowStride);
        ref float m2 = ref Unsafe.Add(ref m1, rowStride);
        ref float m3 = ref Unsafe.Add(ref m2, rowStride);
        ref float m4 = ref Unsafe.Add(ref m3, rowStride);
        ref float m5 = ref Unsafe.Add(ref m4, rowStride);
        ref float u0 = ref MemoryMarshal.GetReference(tokens);
        ref float u1 = ref Unsafe.Add(ref u0, tokenStride);
        ref float u2 = ref Unsafe.Add(ref u1, tokenStride);
        ref float u3 = ref Unsafe.Add(ref u2, tokenStride);
        int body = n / Lanes * Lanes;
        var z = Vector512<float>.Zero;
        Vector512<float> a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z, a20 = z, a21 = z, a22 = z, a23 = z;
        Vector512<float> a30 = z, a31 = z, a32 = z, a33 = z, a40 = z, a41 = z, a42 = z, a43 = z, a50 = z, a51 = z, a52 = z, a53 = z;
        for (int i = 0; i < body; i += Lanes)
        {
            var r0 = Vector512.LoadUnsafe(ref m0, (nuint)i);
            var r1 = Vector512.LoadUnsafe(ref m1, (nuint)i);
            var r2 = Vector512.LoadUnsafe(ref m2, (nuint)i);
            var r3 = Vector512.LoadUnsafe(ref m3, (nuint)i);
            var r4 = Vector512.LoadUnsafe(ref m4, (nuint)i);
            var r5 = Vector512.LoadUnsafe(ref m5, (nuint)i);
            var x = Vector512.LoadUnsafe(ref u0, (nuint)i);
            a00 = Vector512.FusedMultiplyAdd(r0, x, a00); a10 = Vector512.FusedMultiplyAdd(r1, x, a10); a20 = Vector512.FusedMultiplyAdd(r2, x, a20);
            a30 = Vector512.FusedMultiplyAdd(r3, x, a30); a40 = Vector512.FusedMultiplyAdd(r4, x, a40); a50 = Vector512.FusedMultiplyAdd(r5, x, a50);
            x = Vector512.LoadUnsafe(ref u1, (nuint)i);
            a01 = Vector512.FusedMultiplyAdd(r0, x, a01); a11 = Vector512.FusedMultiplyAdd(r1, x, a11); a21 = Vector512.FusedMultiplyAdd(r2, x, a21);
            a31 = Vector512.FusedMultiplyAdd(r3, x, a31); a41 = Vector512.FusedMultiplyAdd(r4, x, a41); a51 = Vector512.FusedMultiplyAdd(r5, x, a51);
            x = Vector512.LoadUnsafe(ref u2, (nuint)i);
            a02 = Vector512.FusedMultiplyAdd(r0, x, a02); a12 = Vector512.FusedMultiplyAdd(r1, x, a12); a22 = Vector512.FusedMultiplyAdd(r2, x, a22);
            a32 = Vector512.FusedMultiplyAdd(r3, x, a32); a42 = Vector512.FusedMultiplyAdd(r4, x, a42); a52 = Vector512.FusedMultiplyAdd(r5, x, a52);
            x = Vector512.LoadUnsafe(ref u3, (nuint)i);
            a03 = Vector512.FusedMultiplyAdd(r0, x, a03); a13 = Vector512.FusedMultiplyAdd(r1, x, a13); a23 = Vector512.FusedMultiplyAdd(r2, x, a23);
            a33 = Vector512.FusedMultiplyAdd(r3, x, a33); a43 = Vector512.FusedMultiplyAdd(r4, x, a43); a53 = Vector512.FusedMultiplyAdd(r5, x, a53);
        }
        dots[0] = Tail(a00, ref m0, ref u0, body, n); dots[1] = Tail(a01, ref m0, ref u1, body, n); dots[2] = Tail(a02, ref m0, ref u2, body, n); dots[3] = Tail(a03, ref m0, ref u3, body, n);
        dots[4] = Tail(a10, ref m1, ref u0, body, n); dots[5] = Tail(a11, ref m1, ref u1, body, n); dots[6] = Tail(a12, ref m1, ref u2, body, n); dots[7] = Tail(a13, ref m1, ref u3, body, n);
        dots[8] = Tail(a20, ref m2, ref u0, body, n); dots[9] = Tail(a21, ref m2, ref u1, body, n); dots[10] = Tail(a22, ref m2, ref u2, body, n); dots[11] = Tail(a23, ref m2, ref u3, body, n);
        dots[12] = Tail(a30, ref m3, ref u0, body, n); dots[13] = Tail(a31, ref m3, ref u1, body, n); dots[14] = Tail(a32, ref m3, ref u2, body, n); dots[15] = Tail(a33, ref m3, ref u3, body, n);
        dots[16] = Tail(a40, ref m4, ref u0, body, n); dots[17] = Tail(a41, ref m4, ref u1, body, n); dots[18] = Tail(a42, ref m4, ref u2, body, n); dots[19] = Tail(a43, ref m4, ref u3, body, n);
        dots[20] = Tail(a50, ref m5, ref u0, body, n); dots[21] = Tail(a51, ref m5, ref u1, body, n); dots[22] = Tail(a52, ref m5, ref u2, body, n); dots[23] = Tail(a53, ref m5, ref u3, body, n);
    }

    private static float Tail(Vector512<float> acc, ref float a, ref float b, int body, int n)
    {
        float sum = Combine(acc.GetLower(), acc.GetUpper());
        for (int i = body; i < n; i++) sum = MathF.FusedMultiplyAdd(Unsafe.Add(ref a, i), Unsafe.Add(ref b, i), sum);
        return sum;
    }

    // Rows r, r+1 with tokens t, t+1: four dots, each two Vector256 accumulators (lanes 0..7 and 8..15).
    private static void Dots2x2Vector256(ReadOnlySpan<float> rows, int rowStride, ReadOnlySpan<float> tokens, int tokenStride, int n, int r, int t, Span<float> dots)
    {
        ref float m0 = ref Unsafe.Add(ref MemoryMarshal.GetReference(rows), r * rowStride);
        ref float m1 = ref Unsafe.Add(ref m0, rowStride);
        ref float u0 = ref Unsafe.Add(ref MemoryMarshal.GetReference(tokens), t * tokenStride);
        ref float u1 = ref Unsafe.Add(ref u0, tokenStride);
        int body = n / Lanes * Lanes;
        var z = Vector256<float>.Zero;
        Vector256<float> l00 = z, h00 = z, l01 = z, h01 = z, l10 = z, h10 = z, l11 = z, h11 = z;
        for (int i = 0; i < body; i += Lanes)
        {
            var x0l = Vector256.LoadUnsafe(ref u0, (nuint)i);
            var x0h = Vector256.LoadUnsafe(ref u0, (nuint)(i + 8));
            var x1l = Vector256.LoadUnsafe(ref u1, (nuint)i);
            var x1h = Vector256.LoadUnsafe(ref u1, (nuint)(i + 8));
            var wl = Vector256.LoadUnsafe(ref m0, (nuint)i);
            var wh = Vector256.LoadUnsafe(ref m0, (nuint)(i + 8));
            l00 = Vector256.FusedMultiplyAdd(wl, x0l, l00); h00 = Vector256.FusedMultiplyAdd(wh, x0h, h00);
            l01 = Vector256.FusedMultiplyAdd(wl, x1l, l01); h01 = Vector256.FusedMultiplyAdd(wh, x1h, h01);
            wl = Vector256.LoadUnsafe(ref m1, (nuint)i);
            wh = Vector256.LoadUnsafe(ref m1, (nuint)(i + 8));
            l10 = Vector256.FusedMultiplyAdd(wl, x0l, l10); h10 = Vector256.FusedMultiplyAdd(wh, x0h, h10);
            l11 = Vector256.FusedMultiplyAdd(wl, x1l, l11); h11 = Vector256.FusedMultiplyAdd(wh, x1h, h11);
        }
        dots[4 * r + t] = Tail(l00, h00, ref m0, ref u0, body, n);
        dots[4 * r + t + 1] = Tail(l01, h01, ref m0, ref u1, body, n);
        dots[4 * (r + 1) + t] = Tail(l10, h10, ref m1, ref u0, body, n);
        dots[4 * (r + 1) + t + 1] = Tail(l11, h11, ref m1, ref u1, body, n);
    }

    private static float Tail(Vector256<float> lo, Vector256<float> hi, ref float a, ref float b, int body, int n)
    {
        float sum = Combine(lo, hi);
        for (int i = body; i < n; i++) sum = MathF.FusedMultiplyAdd(Unsafe.Add(ref a, i), Unsafe.Add(ref b, i), sum);
        return sum;
    }

    /// <summary>Σ x_i²   x: n.</summary>
    public static float SumOfSquares(ReadOnlySpan<float> x) => Dot(x, x);

    /// <summary>y += s·x   x, y: n; each element one fused multiply-add on its own, so any split of y gives the same bits.</summary>
    public static void AddScaled(Span<float> y, float s, ReadOnlySpan<float> x) => AddScaled(y, s, x, KernelPaths.Best);

    /// <inheritdoc cref="AddScaled(Span{float}, float, ReadOnlySpan{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddScaled(Span<float> y, float s, ReadOnlySpan<float> x, KernelPath path)
    {
        if (x.Length != y.Length) throw new ArgumentException($"y has {y.Length} values and x {x.Length}", nameof(x));
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float py = ref MemoryMarshal.GetReference(y);
        int n = x.Length, i = 0;
        if (path >= KernelPath.Vector512)
        {
            var scale = Vector512.Create(s);
            for (; i + 16 <= n; i += 16)
                Vector512.FusedMultiplyAdd(scale, Vector512.LoadUnsafe(ref px, (nuint)i), Vector512.LoadUnsafe(ref py, (nuint)i)).StoreUnsafe(ref py, (nuint)i);
        }
        if (path >= KernelPath.Vector256)
        {
            var scale = Vector256.Create(s);
            for (; i + 8 <= n; i += 8)
                Vector256.FusedMultiplyAdd(scale, Vector256.LoadUnsafe(ref px, (nuint)i), Vector256.LoadUnsafe(ref py, (nuint)i)).StoreUnsafe(ref py, (nuint)i);
        }
        if (path >= KernelPath.Vector128)
        {
            var scale = Vector128.Create(s);
            for (; i + 4 <= n; i += 4)
                Vector128.FusedMultiplyAdd(scale, Vector128.LoadUnsafe(ref px, (nuint)i), Vector128.LoadUnsafe(ref py, (nuint)i)).StoreUnsafe(ref py, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref py, i) = MathF.FusedMultiplyAdd(s, Unsafe.Add(ref px, i), Unsafe.Add(ref py, i));
    }

    // Sixteen lanes as lanes 0..7 and 8..15: h_j = l_j + l_(j+8), q_j = h_j + h_(j+4), then (q0 + q2) + (q1 + q3).
    private static float Combine(Vector256<float> lo, Vector256<float> hi) => Combine(lo + hi);

    private static float Combine(Vector256<float> half) => Combine(half.GetLower() + half.GetUpper());

    private static float Combine(Vector128<float> q) => (q.GetElement(0) + q.GetElement(2)) + (q.GetElement(1) + q.GetElement(3));

    private static float Combine(ReadOnlySpan<float> lanes)
    {
        Span<float> q = stackalloc float[4];
        for (int j = 0; j < 4; j++) q[j] = (lanes[j] + lanes[j + 8]) + (lanes[j + 4] + lanes[j + 12]);
        return (q[0] + q[2]) + (q[1] + q[3]);
    }
}
