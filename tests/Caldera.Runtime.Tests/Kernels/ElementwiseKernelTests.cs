using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Tests.Kernels;

public class ElementwiseKernelTests
{
    /// <summary>Vector and scalar paths differ only in summation order and in exp's last bits (TensorPrimitives/Vector Exp are within 1–2 ulp): 1e-5 relative.</summary>
    private const float Tolerance = 1e-5f;

    public static TheoryData<string> Paths() => new(KernelData.VectorPaths.Select(p => p.ToString()));

    [Theory]
    [MemberData(nameof(Paths))]
    public void RmsNorm_vector_path_matches_scalar(string pathName)
    {
        var path = Enum.Parse<KernelPath>(pathName);
        foreach (int n in KernelData.Lengths)
        {
            var x = KernelData.Floats(n, seed: n, scale: 3);
            var w = KernelData.Floats(n, seed: n + 1);
            var expected = new float[n];
            var actual = new float[n];
            RmsNorm.Apply(x, w, 1e-5f, expected, KernelPath.Scalar);
            RmsNorm.Apply(x, w, 1e-5f, actual, path);
            AssertClose(expected, actual, $"rmsnorm n={n}");
        }
    }

    [Fact]
    public void RmsNorm_scales_to_unit_root_mean_square()
    {
        // x = [3, 4]: mean(x²) = 12.5, so y = x / √12.5 · w
        var y = new float[2];
        RmsNorm.Apply([3, 4], [1, 2], 0, y);
        Assert.Equal(3 / MathF.Sqrt(12.5f), y[0], 5);
        Assert.Equal(8 / MathF.Sqrt(12.5f), y[1], 5);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Softmax_vector_path_matches_scalar_and_sums_to_one(string pathName)
    {
        var path = Enum.Parse<KernelPath>(pathName);
        foreach (int n in KernelData.Lengths)
        {
            var expected = KernelData.Floats(n, seed: n, scale: 30); // large logits: max subtraction must keep exp finite
            var actual = (float[])expected.Clone();
            Softmax.Apply(expected, KernelPath.Scalar);
            Softmax.Apply(actual, path);
            AssertClose(expected, actual, $"softmax n={n}");
            Assert.Equal(1.0, actual.Sum(v => (double)v), 4);
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void SiluGate_vector_path_matches_scalar(string pathName)
    {
        var path = Enum.Parse<KernelPath>(pathName);
        foreach (int n in KernelData.Lengths)
        {
            var expected = KernelData.Floats(n, seed: n, scale: 12);
            var actual = (float[])expected.Clone();
            var up = KernelData.Floats(n, seed: n + 2);
            SiluGate.Apply(expected, up, KernelPath.Scalar);
            SiluGate.Apply(actual, up, path);
            AssertClose(expected, actual, $"silu n={n}");
        }
    }

    [Fact]
    public void SiluGate_is_g_times_sigmoid_g_times_up()
    {
        float[] gate = [2f, -1f];
        SiluGate.Apply(gate, [3f, 0.5f]);
        Assert.Equal(2 / (1 + Math.Exp(-2)) * 3, gate[0], 5);
        Assert.Equal(-1 / (1 + Math.Exp(1)) * 0.5, gate[1], 5);
    }

    internal static void AssertClose(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= Tolerance * Math.Max(1, Math.Abs(expected[i])),
                $"{what}, element {i}: scalar {expected[i]}, vector {actual[i]}");
    }
}
