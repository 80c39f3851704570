using System.Numerics.Tensors;

namespace Caldera.Runtime.Kernels;

/// <summary>RMSNorm: y = x / √(mean(x²) + ε) ⊙ w   x, w, y: n.</summary>
internal static class RmsNorm
{
    public static void Apply(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float epsilon, Span<float> y) =>
        Apply(x, weight, epsilon, y, KernelPaths.Best);

    internal static void Apply(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float epsilon, Span<float> y, KernelPath path)
    {
        if (weight.Length != x.Length || y.Length != x.Length)
            throw new ArgumentException($"x, weight and y must have the same length ({x.Length}, {weight.Length}, {y.Length})");
        if (path == KernelPath.Scalar)
        {
            float sumOfSquares = 0;
            for (int i = 0; i < x.Length; i++) sumOfSquares += x[i] * x[i];
            float scale = 1f / MathF.Sqrt(sumOfSquares / x.Length + epsilon);
            for (int i = 0; i < x.Length; i++) y[i] = weight[i] * (scale * x[i]);
            return;
        }
        float s = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(x) / x.Length + epsilon);
        TensorPrimitives.Multiply(x, s, y);
        TensorPrimitives.Multiply(y, weight, y);
    }
}
