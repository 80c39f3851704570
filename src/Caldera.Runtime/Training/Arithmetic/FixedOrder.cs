using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Caldera.Runtime.Training.Arithmetic;

/// <summary>
/// The sums training runs on, in an order fixed by the lengths alone. TensorPrimitives may align its reductions to the
/// address of the data, so the same dot product of two copies can round differently; a gradient summed that way would
/// change with where the garbage collector put a buffer, and two runs of one training job would write different
/// adapters. Here lane j of eight accumulates elements i ≡ j (mod 8) in index order (separate multiply and add, as
/// Vector256 does with or without hardware support), the lanes are combined in one fixed tree and the tail is added
/// last, so a result depends only on the values.
/// </summary>
internal static class FixedOrder
{
    private const int Lanes = 8;

    /// <summary>Σ a_i·b_i   a, b: n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"dot of {a.Length} and {b.Length} values", nameof(b));
        ref float pa = ref MemoryMarshal.GetReference(a);
        ref float pb = ref MemoryMarshal.GetReference(b);
        int n = a.Length, i = 0;
        var acc = Vector256<float>.Zero;
        for (; i + Lanes <= n; i += Lanes)
            acc += Vector256.LoadUnsafe(ref pa, (nuint)i) * Vector256.LoadUnsafe(ref pb, (nuint)i);
        float sum = Combine(acc);
        for (; i < n; i++) sum += Unsafe.Add(ref pa, i) * Unsafe.Add(ref pb, i);
        return sum;
    }

    /// <summary>
    /// <see cref="Dot"/> of <paramref name="a"/> with four vectors at once, each result bit for bit its own Dot: the four
    /// accumulators are four independent chains (one Dot is one chain of dependent adds, which bounds it), and a is
    /// loaded once for the four.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static (float, float, float, float) Dot4(ReadOnlySpan<float> a, ReadOnlySpan<float> b0, ReadOnlySpan<float> b1, ReadOnlySpan<float> b2, ReadOnlySpan<float> b3)
    {
        int n = a.Length;
        if (b0.Length != n || b1.Length != n || b2.Length != n || b3.Length != n)
            throw new ArgumentException($"dots of {n} values with {b0.Length}, {b1.Length}, {b2.Length} and {b3.Length}", nameof(b0));
        ref float pa = ref MemoryMarshal.GetReference(a);
        ref float p0 = ref MemoryMarshal.GetReference(b0);
        ref float p1 = ref MemoryMarshal.GetReference(b1);
        ref float p2 = ref MemoryMarshal.GetReference(b2);
        ref float p3 = ref MemoryMarshal.GetReference(b3);
        int i = 0;
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero, acc2 = Vector256<float>.Zero, acc3 = Vector256<float>.Zero;
        for (; i + Lanes <= n; i += Lanes)
        {
            var va = Vector256.LoadUnsafe(ref pa, (nuint)i);
            acc0 += va * Vector256.LoadUnsafe(ref p0, (nuint)i);
            acc1 += va * Vector256.LoadUnsafe(ref p1, (nuint)i);
            acc2 += va * Vector256.LoadUnsafe(ref p2, (nuint)i);
            acc3 += va * Vector256.LoadUnsafe(ref p3, (nuint)i);
        }
        float s0 = Combine(acc0), s1 = Combine(acc1), s2 = Combine(acc2), s3 = Combine(acc3);
        for (; i < n; i++)
        {
            float x = Unsafe.Add(ref pa, i);
            s0 += x * Unsafe.Add(ref p0, i);
            s1 += x * Unsafe.Add(ref p1, i);
            s2 += x * Unsafe.Add(ref p2, i);
            s3 += x * Unsafe.Add(ref p3, i);
        }
        return (s0, s1, s2, s3);
    }

    /// <summary>Σ x_i²   x: n.</summary>
    public static float SumOfSquares(ReadOnlySpan<float> x) => Dot(x, x);

    /// <summary>y += s·x   x, y: n (each element independently, so any split of y gives the same bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddScaled(Span<float> y, float s, ReadOnlySpan<float> x)
    {
        if (x.Length != y.Length) throw new ArgumentException($"y has {y.Length} values and x {x.Length}", nameof(x));
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float py = ref MemoryMarshal.GetReference(y);
        int n = x.Length, i = 0;
        var scale = Vector256.Create(s);
        for (; i + Lanes <= n; i += Lanes)
            (Vector256.LoadUnsafe(ref py, (nuint)i) + scale * Vector256.LoadUnsafe(ref px, (nuint)i)).StoreUnsafe(ref py, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref py, i) += s * Unsafe.Add(ref px, i);
    }

    // ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)): one tree, whatever Vector256.Sum does on this machine.
    private static float Combine(Vector256<float> v)
    {
        var half = v.GetLower() + v.GetUpper();
        return (half.GetElement(0) + half.GetElement(2)) + (half.GetElement(1) + half.GetElement(3));
    }
}
