using Caldera.Compiler.LinearAlgebra;
using Caldera.Compiler.Quantizers;

namespace Caldera.Compiler.Decomposition;

/// <summary>
/// The plainest baseline: W rounded entry by entry to a symmetric uniform b-bit grid with one absmax scale,
/// no incoherence, no low-rank part, no calibration (H only scores the result).
/// </summary>
internal static class RoundToNearest
{
    public static CompressedMatrix Compress(Matrix<float> w, Matrix<double> hessian, int bits, double regularization = 0.01, int threads = 1) =>
        CompressRegularized(w, Hessian.Regularize(hessian, regularization).Convert<float>(), bits, threads);

    /// <param name="regularizedHessian">H already regularized, in fp32 (<see cref="Hessian.RegularizedSingle"/>): it only scores the result.</param>
    public static CompressedMatrix CompressRegularized(Matrix<float> w, Matrix<float> regularizedHessian, int bits, int threads = 1)
    {
        var quantizer = new UniformMatrixQuantizer(bits);
        var q = quantizer.Quantize(w.Data, w.Rows, w.Cols);
        var result = new CompressedMatrix(w.Rows, w.Cols, 1f, null, null, quantizer, q, LowRankFactors.Empty(w.Rows, w.Cols, 16), 0);
        return CalderaDecomposer.WithError(result, w, regularizedHessian, threads);
    }
}
