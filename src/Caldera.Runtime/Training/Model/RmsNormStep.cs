using Caldera.Runtime.Training.Arithmetic;

namespace Caldera.Runtime.Training.Model;

/// <summary>
/// RMSNorm of one token and its gradient:
///   y = g ⊙ (ρ·x),  ρ = 1/√(mean(x²) + ε)
///   dx = ρ·(g ⊙ dy) − (ρ³/d)·(Σ_i g_i·dy_i·x_i)·x
/// </summary>
internal static class RmsNormStep
{
    /// <summary>Writes y and returns ρ, which the backward step needs.</summary>
    public static float Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> gain, float epsilon, Span<float> y)
    {
        float rho = 1f / MathF.Sqrt(FixedOrder.SumOfSquares(x) / x.Length + epsilon);
        for (int i = 0; i < x.Length; i++) y[i] = gain[i] * (rho * x[i]);
        return rho;
    }

    /// <summary>dx += the gradient through the norm; <paramref name="scratch"/> holds d floats.</summary>
    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> gain, float rho, ReadOnlySpan<float> dy, Span<float> dx, Span<float> scratch)
    {
        int d = x.Length;
        var gdy = scratch[..d];
        for (int i = 0; i < d; i++) gdy[i] = gain[i] * dy[i];
        float c = rho * rho * rho / d * FixedOrder.Dot(gdy, x);
        for (int i = 0; i < d; i++) dx[i] += rho * gdy[i] - c * x[i];
    }
}
