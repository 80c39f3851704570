using Caldera.Compiler.Decomposition;
using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Compiler.Tests.Decomposition;

/// <summary>
/// The error every compress log reports and every "method A beats method B" test compares, checked against a plain fp64
/// computation from its definition: ‖(W − Ŵ)·X‖_F / ‖W·X‖_F on calibration inputs X, with H = X·Xᵀ formed here by
/// loops, never by the code under test.
/// </summary>
public sealed class ActivationAwareErrorTests
{
    /// <summary>
    /// The code rounds H to fp32 and sums n-long products in fp32 GEMM: a relative error of at most about n·2⁻²⁴ per sum
    /// (n = 40: 2.4·10⁻⁶) in each trace, under 10⁻⁵ in their ratio's square root. 10⁻⁴ holds with room and fails any
    /// wrong weighting, transpose or missing term, which moves the error by whole percent.
    /// </summary>
    private const double RelativeTolerance = 1e-4;

    private const int Rows = 24, Columns = 40, Tokens = 300;

    [Fact]
    public void The_error_is_the_relative_output_error_on_the_calibration_inputs()
    {
        var (w, x) = Case(seed: 1);
        var approximation = w.Clone();
        var random = new Random(2);
        for (int i = 0; i < approximation.Data.Length; i++) approximation.Data[i] += (float)(0.05 * Gaussian(random));
        var h = Gram(x);

        double expected = Math.Sqrt(OutputSquaredNorm(Subtract(w, approximation), x) / OutputSquaredNorm(w, x));
        double actual = ActivationAwareError.Relative(w, approximation, h);
        Assert.True(Math.Abs(actual - expected) <= RelativeTolerance * expected, $"code {actual}, fp64 definition {expected}");
    }

    [Fact]
    public void A_compressions_reported_error_is_the_definition_with_the_regularised_hessian()
    {
        // What users see: CalderaDecomposer reports the error under H/mean(diag H) + σ·I (σ = 0.01, the paper's), which
        // is ‖ΔX‖²/μ + σ‖Δ‖² over ‖WX‖²/μ + σ‖W‖² with μ = tr(H)/n.
        var (w, x) = Case(seed: 3);
        var h = Gram(x);
        var options = CalderaOptions.Fast with { Rank = 4, Threads = 1 };
        var c = CalderaDecomposer.Decompose(w, h, options);
        var delta = Subtract(w, c.Reconstruct());
        double mu = 0;
        for (int i = 0; i < Columns; i++) mu += h[i, i];
        mu /= Columns;
        double sigma = options.Regularization;
        double expected = Math.Sqrt((OutputSquaredNorm(delta, x) / mu + sigma * SquaredNorm(delta)) / (OutputSquaredNorm(w, x) / mu + sigma * SquaredNorm(w)));
        Assert.InRange(expected, 0.01, 0.9); // a real, imperfect approximation
        Assert.True(Math.Abs(c.RelativeError - expected) <= RelativeTolerance * expected, $"reported {c.RelativeError}, fp64 definition {expected}");
    }

    /// <summary>W (Rows × Columns) and inputs X (Columns × Tokens) whose coordinates are correlated and of unequal scale, as activations are.</summary>
    private static (Matrix<float> W, double[,] X) Case(int seed)
    {
        var random = new Random(seed);
        var w = new Matrix<float>(Rows, Columns);
        for (int i = 0; i < w.Data.Length; i++) w.Data[i] = (float)Gaussian(random);
        var x = new double[Columns, Tokens];
        for (int t = 0; t < Tokens; t++)
        {
            double shared = Gaussian(random);
            for (int j = 0; j < Columns; j++) x[j, t] = (1 + j % 5) * (Gaussian(random) + 0.8 * shared);
        }
        return (w, x);
    }

    private static Matrix<double> Gram(double[,] x)
    {
        var h = new Matrix<double>(Columns, Columns);
        for (int i = 0; i < Columns; i++)
            for (int j = 0; j < Columns; j++)
            {
                double sum = 0;
                for (int t = 0; t < Tokens; t++) sum += x[i, t] * x[j, t];
                h[i, j] = sum;
            }
        return h;
    }

    /// <summary>‖A·X‖_F² in fp64.</summary>
    private static double OutputSquaredNorm(Matrix<float> a, double[,] x)
    {
        double total = 0;
        for (int i = 0; i < Rows; i++)
            for (int t = 0; t < Tokens; t++)
            {
                double y = 0;
                for (int j = 0; j < Columns; j++) y += a[i, j] * x[j, t];
                total += y * y;
            }
        return total;
    }

    private static double SquaredNorm(Matrix<float> a)
    {
        double total = 0;
        foreach (float v in a.Data) total += (double)v * v;
        return total;
    }

    private static Matrix<float> Subtract(Matrix<float> a, Matrix<float> b)
    {
        var result = new Matrix<float>(Rows, Columns);
        for (int i = 0; i < result.Data.Length; i++) result.Data[i] = a.Data[i] - b.Data[i];
        return result;
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
