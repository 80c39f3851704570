using Caldera.Compiler.Decomposition;
using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Compiler.Tests.Decomposition;

/// <summary>
/// A weight matrix with the structure that makes LLM weights hard to quantize: W has a decaying singular
/// spectrum on top of a noise-like bulk and a few outlier input columns; its inputs are correlated across
/// channels, with a few heavy channels (as attention-sink and massive-activation channels are).
/// </summary>
internal sealed record SyntheticMatrix(Matrix<float> W, Matrix<double> H)
{
    public static SyntheticMatrix Create(int m, int n, int seed, int tokens = 2048)
    {
        var random = new Random(seed);
        var w = new Matrix<float>(m, n, TestData.Gaussian(random, m * n, 1f / MathF.Sqrt(n)));
        // Low-rank structure: Σ_i σ_i·u_i·v_iᵀ with σ_i = 2/√(1+i).
        for (int i = 0; i < Math.Min(48, Math.Min(m, n)); i++)
        {
            var u = TestData.Gaussian(random, m, 1f / MathF.Sqrt(m));
            var v = TestData.Gaussian(random, n, 1f / MathF.Sqrt(n));
            float sigma = 2f / MathF.Sqrt(1 + i);
            for (int r = 0; r < m; r++)
                for (int c = 0; c < n; c++) w[r, c] += sigma * u[r] * v[c] * MathF.Sqrt(n);
        }
        // Outlier input columns.
        foreach (int c in new[] { 3, n / 2, n - 5 })
            for (int r = 0; r < m; r++) w[r, c] *= 6f;

        // Inputs x = M·z with a smooth channel mixing M (correlation between nearby channels), plus heavy channels.
        var hessian = new Hessian(n);
        var x = new float[tokens * n];
        var z = new float[n];
        var heavy = new[] { 1, n / 3, 2 * n / 3, n - 2 };
        for (int t = 0; t < tokens; t++)
        {
            for (int c = 0; c < n; c++) z[c] = TestData.StandardNormal(random);
            var row = x.AsSpan(t * n, n);
            float carry = 0;
            for (int c = 0; c < n; c++)
            {
                carry = 0.8f * carry + 0.6f * z[c];
                row[c] = carry;
            }
            foreach (int c in heavy) row[c] *= 12f;
        }
        hessian.Add(x, tokens);
        return new SyntheticMatrix(w, hessian.SecondMoment());
    }
}
