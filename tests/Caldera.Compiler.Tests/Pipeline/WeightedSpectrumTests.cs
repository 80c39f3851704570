using Caldera.Compiler.LinearAlgebra;
using Caldera.Compiler.Pipeline;
using Caldera.Compiler.Tests.LinearAlgebra;

namespace Caldera.Compiler.Tests.Pipeline;

/// <summary>The activation-weighted spectrum a bits budget allocates ranks from: the singular values of W·H^½.</summary>
public class WeightedSpectrumTests
{
    /// <summary>
    /// fp32 inputs (W and H are read in fp32, as the compressor holds them) and four power iterations of a randomized SVD
    /// whose leading values converge like (σ₁₉/σ₁₀)⁹ = 2⁻²⁰ on this spectrum: a relative 10⁻⁴ covers both.
    /// </summary>
    private const double SpectrumTolerance = 1e-4;

    [Fact]
    public void The_squares_are_those_of_W_times_the_root_of_H_whatever_basis_H_has()
    {
        // W = U·diag(s)·Vᵀ·diag(1/d)·Pᵀ and H = P·diag(d²)·Pᵀ, so W·H^½ = U·diag(s)·Vᵀ·Pᵀ has singular values s exactly.
        const int m = 48, n = 32, count = 10;
        double[] s = [.. Enumerable.Range(0, n).Select(i => 3 * Math.Pow(2, -i / 4.0))];
        double[] d = [.. Enumerable.Range(0, n).Select(i => 0.5 + i / 8.0)];
        var u = HouseholderQr.Decompose(TestMatrices.Gaussian(m, n, seed: 1)).Q;
        var v = HouseholderQr.Decompose(TestMatrices.Gaussian(n, n, seed: 2)).Q;
        var p = HouseholderQr.Decompose(TestMatrices.Gaussian(n, n, seed: 3)).Q;
        var usv = Gemm.Multiply(Op.N, Scaled(u, s), Op.T, v);
        var w = Gemm.Multiply(Op.N, Scaled(usv, [.. d.Select(x => 1 / x)]), Op.T, p).Convert<float>();
        var h = Gemm.Multiply(Op.N, Scaled(p, [.. d.Select(x => x * x)]), Op.T, p);

        var spectrum = WeightedSpectrum.Of(w, h.Convert<float>(), count, threads: 2);

        Assert.Equal(count, spectrum.Squares.Length);
        for (int i = 0; i < count; i++)
            Assert.True(Math.Abs(spectrum.Squares[i] / (s[i] * s[i]) - 1) < SpectrumTolerance, $"σ{i}² = {spectrum.Squares[i]}, expected {s[i] * s[i]}");
        Assert.Equal(spectrum.Squares, WeightedSpectrum.Of(w, h.Convert<float>(), count, threads: 1).Squares);
    }

    [Fact]
    public void A_Hessian_that_is_not_positive_definite_is_refused()
    {
        var w = TestMatrices.GaussianSingle(8, 4, seed: 1);
        var e = Assert.Throws<ArgumentException>(() => WeightedSpectrum.Of(w, new Matrix<float>(4, 4), 2, threads: 1));
        Assert.Contains("not positive definite", e.Message);
        Assert.Throws<ArgumentException>(() => WeightedSpectrum.Of(w, new Matrix<float>(8, 8), 2, threads: 1));
    }

    /// <summary>A with column j scaled by <paramref name="scale"/>[j]: A·diag(scale).</summary>
    private static Matrix<double> Scaled(Matrix<double> a, double[] scale)
    {
        var result = a.Clone();
        for (int i = 0; i < a.Rows; i++)
            for (int j = 0; j < a.Cols; j++) result[i, j] *= scale[j];
        return result;
    }
}
