using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// The L·t update of prefill for a slice of output rows:
///   Y[t, i] += Σ_r Lᵀ[r, i]·A[t, r]        Lᵀ: k × length (decoded rows of Lᵀ),  A: n × k,  Y: n rows of stride yStride
/// each (t, i) summed in rank order with one fused multiply-add per rank on every path, so every path gives the same bits.
/// </summary>
/// <remarks>
/// One axpy per (rank, token) re-reads and re-writes the token's slice of Y k times and pays a call for a few
/// vectors each. Here a 16-row vector of Y for four tokens stays in registers across all k ranks: per rank one load of
/// Lᵀ, four broadcasts of A and four FMAs.
/// </remarks>
internal static class RankUpdate
{
    /// <summary>Y[t, i] += Σ_r Lᵀ[r, i]·A[t, r] (see the type) for i &lt; <paramref name="length"/>, t &lt; <paramref name="n"/>.</summary>
    public static void Add(ReadOnlySpan<float> lTransposed, int length, ReadOnlySpan<float> a, int n, Span<float> y, int yStride) =>
        Add(lTransposed, length, a, n, y, yStride, KernelPaths.Best);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void Add(ReadOnlySpan<float> lTransposed, int length, ReadOnlySpan<float> a, int n, Span<float> y, int yStride, KernelPath path)
    {
        if (n < 1 || length < 0 || a.Length % n != 0)
            throw new ArgumentException($"A holds {a.Length} floats, not {n} whole rows.", nameof(a));
        int rank = a.Length / n;
        if (lTransposed.Length != (long)rank * length)
            throw new ArgumentException($"Lᵀ of {rank}×{length} holds {(long)rank * length} floats, got {lTransposed.Length}.", nameof(lTransposed));
        if (length > yStride || y.Length < (long)(n - 1) * yStride + length)
            throw new ArgumentException($"Y holds {y.Length} floats, too few for {n} rows of stride {yStride}.", nameof(y));
        fixed (float* l = lTransposed, pa = a, py = y)
        {
            int vectorEnd = 0;
            if (path == KernelPath.Vector512)
            {
                vectorEnd = length - length % Vector512<float>.Count;
                int t = 0;
                for (; t + 4 <= n; t += 4)
                    for (int i = 0; i < vectorEnd; i += Vector512<float>.Count)
                        FourTokens(l, length, rank, pa + (long)t * rank, py + (long)t * yStride + i, yStride, i);
                for (; t < n; t++)
                    for (int i = 0; i < vectorEnd; i += Vector512<float>.Count)
                    {
                        float* target = py + (long)t * yStride + i;
                        var sum = Vector512.Load(target);
                        for (int r = 0; r < rank; r++)
                            sum = Vector512.FusedMultiplyAdd(Vector512.Load(l + (long)r * length + i), Vector512.Create(pa[(long)t * rank + r]), sum);
                        sum.Store(target);
                    }
            }
            else if (path == KernelPath.Vector256)
            {
                // AVX2: one token and eight rows per register, the same order.
                vectorEnd = length - length % Vector256<float>.Count;
                for (int t = 0; t < n; t++)
                    for (int i = 0; i < vectorEnd; i += Vector256<float>.Count)
                    {
                        float* target = py + (long)t * yStride + i;
                        var sum = Vector256.Load(target);
                        for (int r = 0; r < rank; r++)
                            sum = Vector256.FusedMultiplyAdd(Vector256.Load(l + (long)r * length + i), Vector256.Create(pa[(long)t * rank + r]), sum);
                        sum.Store(target);
                    }
            }
            else if (path == KernelPath.Vector128)
            {
                // The portable path (NEON on Arm): one token and four rows per register, the same order.
                vectorEnd = length - length % Vector128<float>.Count;
                for (int t = 0; t < n; t++)
                    for (int i = 0; i < vectorEnd; i += Vector128<float>.Count)
                    {
                        float* target = py + (long)t * yStride + i;
                        var sum = Vector128.Load(target);
                        for (int r = 0; r < rank; r++)
                            sum = Vector128.FusedMultiplyAdd(Vector128.Load(l + (long)r * length + i), Vector128.Create(pa[(long)t * rank + r]), sum);
                        sum.Store(target);
                    }
            }
            for (int t = 0; t < n; t++)
                for (int i = vectorEnd; i < length; i++)
                {
                    float sum = py[(long)t * yStride + i];
                    for (int r = 0; r < rank; r++) sum = MathF.FusedMultiplyAdd(l[(long)r * length + i], pa[(long)t * rank + r], sum);
                    py[(long)t * yStride + i] = sum;
                }
        }
    }

    /// <summary>Rows [i, i + 16) of four tokens' Y in four registers across all ranks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void FourTokens(float* l, int length, int rank, float* a, float* y, int yStride, int i)
    {
        var y0 = Vector512.Load(y);
        var y1 = Vector512.Load(y + yStride);
        var y2 = Vector512.Load(y + 2L * yStride);
        var y3 = Vector512.Load(y + 3L * yStride);
        for (int r = 0; r < rank; r++)
        {
            var column = Vector512.Load(l + (long)r * length + i);
            y0 = Vector512.FusedMultiplyAdd(column, Vector512.Create(a[r]), y0);
            y1 = Vector512.FusedMultiplyAdd(column, Vector512.Create(a[rank + r]), y1);
            y2 = Vector512.FusedMultiplyAdd(column, Vector512.Create(a[2 * rank + r]), y2);
            y3 = Vector512.FusedMultiplyAdd(column, Vector512.Create(a[3 * rank + r]), y3);
        }
        y0.Store(y);
        y1.Store(y + yStride);
        y2.Store(y + 2L * yStride);
        y3.Store(y + 3L * yStride);
    }
}
