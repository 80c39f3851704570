using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// Rotary position embedding, in place on the query or key vectors of one token:
/// x' = x ⊙ cos + partner(x) ⊙ sin±   x: heads × headDim; cos, sin± from <see cref="RopeTable"/>.
/// partner swaps (2i, 2i+1) for <see cref="RopePairing.Interleaved"/> and (i, i + d/2) for
/// <see cref="RopePairing.RotateHalf"/>.
/// </summary>
internal static unsafe class Rope
{
    public static void Apply(Span<float> x, RopeTable table, int position) => Apply(x, table, position, KernelPaths.Best);

    internal static void Apply(Span<float> x, RopeTable table, int position, KernelPath path)
    {
        int d = table.HeadDim;
        if (x.Length % d != 0)
            throw new ArgumentException($"{x.Length} values are not a whole number of {d}-wide heads", nameof(x));
        fixed (float* px = x)
        fixed (float* cos = table.Cos(position), sin = table.SignedSin(position))
        {
            for (float* head = px; head < px + x.Length; head += d)
            {
                if (table.Pairing == RopePairing.Interleaved) Interleaved(head, cos, sin, d, path);
                else RotateHalf(head, cos, sin, d, path);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Interleaved(float* x, float* cos, float* sin, int d, KernelPath path)
    {
        if (path == KernelPath.Vector512 && d % Vector512<float>.Count == 0)
        {
            var swapPairs = Vector512.Create(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
            for (int i = 0; i < d; i += Vector512<float>.Count)
            {
                var v = Vector512.Load(x + i);
                Vector512.FusedMultiplyAdd(Vector512.Shuffle(v, swapPairs), Vector512.Load(sin + i), v * Vector512.Load(cos + i)).Store(x + i);
            }
        }
        else if (path >= KernelPath.Vector256 && d % Vector256<float>.Count == 0)
        {
            var swapPairs = Vector256.Create(1, 0, 3, 2, 5, 4, 7, 6);
            for (int i = 0; i < d; i += Vector256<float>.Count)
            {
                var v = Vector256.Load(x + i);
                Vector256.FusedMultiplyAdd(Vector256.Shuffle(v, swapPairs), Vector256.Load(sin + i), v * Vector256.Load(cos + i)).Store(x + i);
            }
        }
        else if (path >= KernelPath.Vector128 && d % Vector128<float>.Count == 0)
        {
            var swapPairs = Vector128.Create(1, 0, 3, 2);
            for (int i = 0; i < d; i += Vector128<float>.Count)
            {
                var v = Vector128.Load(x + i);
                Vector128.FusedMultiplyAdd(Vector128.Shuffle(v, swapPairs), Vector128.Load(sin + i), v * Vector128.Load(cos + i)).Store(x + i);
            }
        }
        else
        {
            for (int i = 0; i < d; i += 2) RotatePair(x, cos, sin, i, i + 1);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RotateHalf(float* x, float* cos, float* sin, int d, KernelPath path)
    {
        int h = d / 2;
        if (path == KernelPath.Vector512 && h % Vector512<float>.Count == 0)
        {
            for (int i = 0; i < h; i += Vector512<float>.Count)
            {
                var lo = Vector512.Load(x + i);
                var hi = Vector512.Load(x + h + i);
                Vector512.FusedMultiplyAdd(hi, Vector512.Load(sin + i), lo * Vector512.Load(cos + i)).Store(x + i);
                Vector512.FusedMultiplyAdd(lo, Vector512.Load(sin + h + i), hi * Vector512.Load(cos + h + i)).Store(x + h + i);
            }
        }
        else if (path >= KernelPath.Vector256 && h % Vector256<float>.Count == 0)
        {
            for (int i = 0; i < h; i += Vector256<float>.Count)
            {
                var lo = Vector256.Load(x + i);
                var hi = Vector256.Load(x + h + i);
                Vector256.FusedMultiplyAdd(hi, Vector256.Load(sin + i), lo * Vector256.Load(cos + i)).Store(x + i);
                Vector256.FusedMultiplyAdd(lo, Vector256.Load(sin + h + i), hi * Vector256.Load(cos + h + i)).Store(x + h + i);
            }
        }
        else if (path >= KernelPath.Vector128 && h % Vector128<float>.Count == 0)
        {
            for (int i = 0; i < h; i += Vector128<float>.Count)
            {
                var lo = Vector128.Load(x + i);
                var hi = Vector128.Load(x + h + i);
                Vector128.FusedMultiplyAdd(hi, Vector128.Load(sin + i), lo * Vector128.Load(cos + i)).Store(x + i);
                Vector128.FusedMultiplyAdd(lo, Vector128.Load(sin + h + i), hi * Vector128.Load(cos + h + i)).Store(x + h + i);
            }
        }
        else
        {
            for (int i = 0; i < h; i++) RotatePair(x, cos, sin, i, i + h);
        }
    }

    /// <summary>The reference: (a, b) ← (a·cos − b·sin, b·cos + a·sin) with the signs folded into sin±.</summary>
    private static void RotatePair(float* x, float* cos, float* sin, int i, int j)
    {
        float a = x[i], b = x[j];
        x[i] = a * cos[i] + b * sin[i];
        x[j] = b * cos[j] + a * sin[j];
    }
}
