using System.Runtime.Intrinsics;

namespace Caldera.Compiler.LinearAlgebra;

/// <summary>
/// Applies the Givens rotation [c −s; s c] to a pair of rows: x' = c·x − s·y, y' = s·x + c·y, elementwise.
/// The kernel under the QL eigenvector update and one-sided Jacobi.
/// </summary>
internal static class PlaneRotation
{
    public static void Apply(Span<double> x, Span<double> y, double c, double s)
    {
        if (x.Length != y.Length)
        {
            throw new ArgumentException($"rotated rows must have equal lengths, got {x.Length} and {y.Length}.");
        }

        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            i = Apply512(x, y, c, s);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            i = Apply256(x, y, c, s);
        }

        ApplyScalar(x[i..], y[i..], c, s);
    }

    internal static void ApplyScalar(Span<double> x, Span<double> y, double c, double s)
    {
        for (int i = 0; i < x.Length; i++)
        {
            double xi = x[i];
            double yi = y[i];
            x[i] = (c * xi) - (s * yi);
            y[i] = (s * xi) + (c * yi);
        }
    }

    // Returns how many leading elements were rotated; the caller finishes the tail with the scalar path, whose
    // unfused multiply-subtract matches the vector lanes exactly.
    internal static int Apply512(Span<double> x, Span<double> y, double c, double s)
    {
        if (x.IsEmpty)
        {
            return 0;
        }

        ref double rx = ref x[0];
        ref double ry = ref y[0];
        var vc = Vector512.Create(c);
        var vs = Vector512.Create(s);
        int i = 0;
        for (; i <= x.Length - Vector512<double>.Count; i += Vector512<double>.Count)
        {
            Vector512<double> xi = Vector512.LoadUnsafe(ref rx, (nuint)i);
            Vector512<double> yi = Vector512.LoadUnsafe(ref ry, (nuint)i);
            ((vc * xi) - (vs * yi)).StoreUnsafe(ref rx, (nuint)i);
            ((vs * xi) + (vc * yi)).StoreUnsafe(ref ry, (nuint)i);
        }

        return i;
    }

    internal static int Apply256(Span<double> x, Span<double> y, double c, double s)
    {
        if (x.IsEmpty)
        {
            return 0;
        }

        ref double rx = ref x[0];
        ref double ry = ref y[0];
        var vc = Vector256.Create(c);
        var vs = Vector256.Create(s);
        int i = 0;
        for (; i <= x.Length - Vector256<double>.Count; i += Vector256<double>.Count)
        {
            Vector256<double> xi = Vector256.LoadUnsafe(ref rx, (nuint)i);
            Vector256<double> yi = Vector256.LoadUnsafe(ref ry, (nuint)i);
            ((vc * xi) - (vs * yi)).StoreUnsafe(ref rx, (nuint)i);
            ((vs * xi) + (vc * yi)).StoreUnsafe(ref ry, (nuint)i);
        }

        return i;
    }
}
