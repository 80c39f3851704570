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
