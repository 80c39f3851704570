using System.Numerics.Tensors;

namespace Caldera.Runtime.Kernels;

/// <summary>
/// In-place softmax: x_i ← exp(x_i − max x) / Σ_j exp(x_j − max x). Subtracting the max keeps exp from
/// overflowing on large logits (TensorPrimitives.SoftMax does not).
/// </summary>
internal static class Softmax
{
    public static void Apply(Span<float> x) => Apply(x, KernelPaths.Best);

    internal static void Apply(Span<float> x, KernelPath path)
    {
        if (x.IsEmpty) return;
        if (path == KernelPath.Scalar)
        {
            float max = x[0];
            for (int i = 1; i < x.Length; i++) max = MathF.Max(max, x[i]);
            float sum = 0;
            for (int i = 0; i < x.Length; i++)
            {
                x[i] = MathF.Exp(x[i] - max);
                sum += x[i];
            }
            for (int i = 0; i < x.Length; i++) x[i] /= sum;
            return;
        }
        TensorPrimitives.Subtract(x, TensorPrimitives.Max(x), x);
        TensorPrimitives.Exp(x, x);
        TensorPrimitives.Divide(x, TensorPrimitives.Sum(x), x);
    }
}
