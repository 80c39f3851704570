using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Compiler.Decomposition;

/// <summary>The CALDERA quality measure √(tr(Δ·H·Δᵀ) / tr(W·H·Wᵀ)), Δ = Ŵ − W: the output error on calibration inputs relative to the output.</summary>
internal static class ActivationAwareError
{
    public static double Relative(Matrix<float> w, Matrix<float> approximation, Matrix<double> h, int threads = 1) =>
        Relative(w, approximation, h.Convert<float>(), threads);

    /// <summary>The same with H in fp32, the precision the weighted norms run in.</summary>
    public static double Relative(Matrix<float> w, Matrix<float> approximation, Matrix<float> h, int threads = 1)
    {
        var hf = Gemm.Pack(Op.N, h, threads);
        double denominator = DenseOps.WeightedSquaredNorm(w, hf, threads);
        double numerator = DenseOps.WeightedSquaredNorm(DenseOps.Subtract(approximation, w), hf, threads);
        return denominator > 0 ? Math.Sqrt(Math.Max(numerator, 0) / denominator) : (numerator > 0 ? double.PositiveInfinity : 0);
    }
}
