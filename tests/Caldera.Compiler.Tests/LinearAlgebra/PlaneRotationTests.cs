using System.Runtime.Intrinsics;
using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Compiler.Tests.LinearAlgebra;

public class PlaneRotationTests
{
    public static TheoryData<int> Lengths => new() { 0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33, 127, 4096, 4099 };

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Vector_paths_match_scalar_path_bitwise(int length)
    {
        // Every path computes c·x − s·y and s·x + c·y with two roundings per product, so results must be identical.
        double c = Math.Cos(0.3), s = Math.Sin(0.3);
        double[] x0 = TestMatrices.Gaussian(1, length, length).Data;
        double[] y0 = TestMatrices.Gaussian(1, length, length + 1).Data;
        double[] xs = (double[])x0.Clone(), ys = (double[])y0.Clone();
        PlaneRotation.ApplyScalar(xs, ys, c, s);

        foreach (Func<Span<double>, Span<double>, double, double, int> path in VectorPaths())
        {
            double[] xv = (double[])x0.Clone(), yv = (double[])y0.Clone();
            int done = path(xv, yv, c, s);
            PlaneRotation.ApplyScalar(xv.AsSpan(done), yv.AsSpan(done), c, s);
            Assert.Equal(xs, xv);
            Assert.Equal(ys, yv);
        }

        double[] xp = (double[])x0.Clone(), yp = (double[])y0.Clone();
        PlaneRotation.Apply(xp, yp, c, s);
        Assert.Equal(xs, xp);
        Assert.Equal(ys, yp);
    }

    [Fact]
    public void Rotation_preserves_norms_and_rejects_length_mismatch()
    {
        double[] x = [3, 0];
        double[] y = [4, 1];
        PlaneRotation.Apply(x, y, 0.6, 0.8);
        Assert.Equal(3 * 0.6 - 4 * 0.8, x[0], 15);
        Assert.Equal(3 * 0.8 + 4 * 0.6, y[0], 15);
        Assert.Throws<ArgumentException>(() => PlaneRotation.Apply(new double[3], new double[4], 1, 0));
    }

    private static IEnumerable<Func<Span<double>, Span<double>, double, double, int>> VectorPaths()
    {
        if (Vector512.IsHardwareAccelerated)
        {
            yield return PlaneRotation.Apply512;
        }

        if (Vector256.IsHardwareAccelerated)
        {
            yield return PlaneRotation.Apply256;
        }
    }
}
