using Caldera.Runtime.Incoherence;

namespace Caldera.Runtime.Tests.Incoherence;

public class RandomizedHadamardTests
{
    /// <summary>The brief's bound for UᵀU = I and ‖Ux‖ = ‖x‖ in float arithmetic.</summary>
    private const double OrthogonalityTolerance = 1e-5;

    /// <summary>Dense references are summed in double; fast paths in float over ≤ n terms of size ~1/√n.</summary>
    private const double DenseTolerance = 2e-5;

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(45)]
    [InlineData(64)]
    [InlineData(129)]
    [InlineData(172)]
    [InlineData(256)]
    [InlineData(688)]
    [InlineData(2048)]
    [InlineData(5632)]
    [InlineData(11008)]
    public void Transform_is_orthogonal(int n)
    {
        var rht = RandomizedHadamard.Create(n, seed: 42);
        var random = new Random(n);
        // UᵀU = I on every column for n ≤ 256, else on 48 sampled columns (both ends included).
        int[] sample = n <= 256 ? Enumerable.Range(0, n).ToArray()
            : new[] { 0, n - 1 }.Concat(Enumerable.Range(0, 46).Select(_ => random.Next(1, n - 1))).Distinct().ToArray();
        var columns = new float[sample.Length][];
        for (int s = 0; s < sample.Length; s++)
        {
            var e = new float[n];
            e[sample[s]] = 1;
            columns[s] = new float[n];
            rht.Transform.Apply(e, columns[s]);
        }
        for (int s = 0; s < sample.Length; s++)
            for (int t = s; t < sample.Length; t++)
            {
                double dot = 0;
                for (int i = 0; i < n; i++) dot += (double)columns[s][i] * columns[t][i];
                Assert.True(Math.Abs(dot - (s == t ? 1 : 0)) < OrthogonalityTolerance, $"n = {n}: columns {sample[s]}, {sample[t]} have dot {dot}");
            }

        for (int trial = 0; trial < 3; trial++)
        {
            float[] x = TestData.Gaussian(random, n);
            var u = new float[n];
            rht.Forward(x, u);
            double normX = Math.Sqrt(TestData.SquaredDistance(x, new float[n]));
            double normU = Math.Sqrt(TestData.SquaredDistance(u, new float[n]));
            Assert.True(Math.Abs(normU - normX) < OrthogonalityTolerance * normX, $"n = {n}: ‖x‖ = {normX}, ‖Uᵀ(S⊙x)‖ = {normU}");
            var back = new float[n];
            rht.Inverse(u, back);
            Assert.True(Math.Sqrt(TestData.SquaredDistance(x, back)) < OrthogonalityTolerance * normX, $"n = {n}: Inverse(Forward(x)) ≠ x");
        }
    }

    [Theory]
    [InlineData(24)]
    [InlineData(172)]
    public void Forward_is_U_transpose_of_signed_input(int n)
    {
        var rht = RandomizedHadamard.Create(n, seed: 3);
        float[] dense = HadamardTransformTests.DenseByColumns(rht.Transform, transpose: false);
        float[] x = TestData.Gaussian(new Random(1), n);
        var u = new float[n];
        rht.Forward(x, u);
        for (int i = 0; i < n; i++)
        {
            double expected = 0;
            for (int j = 0; j < n; j++) expected += (double)dense[j * n + i] * rht.Signs[j] * x[j];
            Assert.Equal(expected, u[i], DenseTolerance);
        }
    }

    [Fact]
    public void Matrix_transforms_equal_per_vector_transforms_bit_for_bit_and_invert()
    {
        const int m = 40, n = 172;
        var left = RandomizedHadamard.Create(m, seed: 11);   // SV, V_m
        var right = RandomizedHadamard.Create(n, seed: 12);  // SU, U_n
        float[] w = TestData.Gaussian(new Random(5), m * n);

        var rows = (float[])w.Clone();
        right.TransformRows(rows, m);
        var expectedRow = new float[n];
        for (int r = 0; r < m; r++)
        {
            right.Forward(w.AsSpan(r * n, n), expectedRow);
            Assert.Equal(expectedRow, rows.AsSpan(r * n, n).ToArray());
        }

        var columns = (float[])w.Clone();
        left.TransformColumns(columns, n);
        var column = new float[m];
        var expectedColumn = new float[m];
        for (int c = 0; c < n; c++)
        {
            for (int r = 0; r < m; r++) column[r] = w[r * n + c];
            left.Forward(column, expectedColumn);
            for (int r = 0; r < m; r++) Assert.Equal(expectedColumn[r], columns[r * n + c]);
        }

        right.InverseTransformRows(rows, m);
        left.InverseTransformColumns(columns, n);
        for (int i = 0; i < w.Length; i++)
        {
            Assert.Equal(w[i], rows[i], 1e-5);
            Assert.Equal(w[i], columns[i], 1e-5);
        }
    }

    [Fact]
    public void Incoherence_keeps_the_proxy_loss_and_transforms_W_and_H_as_the_dense_formulas()
    {
        const int m = 24, n = 20, samples = 64;
        var sv = RandomizedHadamard.Create(m, seed: 1);
        var su = RandomizedHadamard.Create(n, seed: 2);
        var random = new Random(9);
        float[] w = TestData.Gaussian(random, m * n);
        float[] x = TestData.Gaussian(random, samples * n);
        var h = new float[n * n]; // H = XᵀX/N
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int s = 0; s < samples; s++) sum += (double)x[s * n + i] * x[s * n + j];
                h[i * n + j] = (float)(sum / samples);
            }

        var wTilde = (float[])w.Clone();
        sv.TransformColumns(wTilde, n);
        su.TransformRows(wTilde, m);
        var hTilde = (float[])h.Clone();
        su.TransformHessian(hTilde);

        float[] v = HadamardTransformTests.DenseByColumns(sv.Transform, transpose: false);
        float[] u = HadamardTransformTests.DenseByColumns(su.Transform, transpose: false);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double expected = 0; // (V_mᵀ·diag(SV)·W·diag(SU)·U_n)[i, j]
                for (int a = 0; a < m; a++)
                    for (int b = 0; b < n; b++)
                        expected += v[a * m + i] * sv.Signs[a] * w[a * n + b] * su.Signs[b] * u[b * n + j];
                Assert.Equal(expected, wTilde[i * n + j], DenseTolerance * 10);
            }
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double expected = 0; // (U_nᵀ·diag(SU)·H·diag(SU)·U_n)[i, j]
                for (int a = 0; a < n; a++)
                    for (int b = 0; b < n; b++)
                        expected += u[a * n + i] * su.Signs[a] * h[a * n + b] * su.Signs[b] * u[b * n + j];
                Assert.Equal(expected, hTilde[i * n + j], DenseTolerance * 10);
            }

        // tr(W·H·Wᵀ) is the proxy loss scale; an orthogonal change of basis on both sides must keep it.
        Assert.Equal(Trace(w, h, m, n), Trace(wTilde, hTilde, m, n), 1e-3 * Trace(w, h, m, n));
    }

    [Fact]
    public void Same_seed_gives_the_same_transform_and_another_seed_another_one()
    {
        foreach (int n in new[] { 172, 256 })
        {
            RandomizedHadamard a = RandomizedHadamard.Create(n, seed: 42), b = RandomizedHadamard.Create(n, seed: 42);
            RandomizedHadamard c = RandomizedHadamard.Create(n, seed: 43);
            Assert.Equal(a.Signs.ToArray(), b.Signs.ToArray());
            Assert.Equal(a.Transform.Block.ToArray(), b.Transform.Block.ToArray());
            Assert.NotEqual(a.Signs.ToArray(), c.Signs.ToArray());
            if (!a.Transform.IsHadamard) Assert.NotEqual(a.Transform.Block.ToArray(), c.Transform.Block.ToArray());

            float[] x = TestData.Gaussian(new Random(n), 8 * n);
            float[] ya = (float[])x.Clone(), yb = (float[])x.Clone();
            a.TransformRows(ya, 8);
            b.TransformRows(yb, 8);
            Assert.Equal(ya, yb);
        }
        float[] signs = RandomizedHadamard.Create(11008, seed: 42).Signs.ToArray();
        int positive = signs.Count(s => s > 0);
        Assert.InRange(positive, 11008 / 2 - 4 * 53, 11008 / 2 + 4 * 53); // 4σ of a fair coin, σ = √n/2 ≈ 52.5
    }

    [Fact]
    public void Bad_shapes_and_signs_are_rejected()
    {
        var rht = RandomizedHadamard.Create(16, seed: 1);
        Assert.Throws<ArgumentException>(() => rht.Forward(new float[15], new float[15]));
        Assert.Throws<ArgumentException>(() => rht.TransformRows(new float[33], 2));
        Assert.Throws<ArgumentException>(() => rht.TransformColumns(new float[32], 3));
        Assert.Throws<ArgumentException>(() => new RandomizedHadamard(rht.Transform, new float[16]));
    }

    private static double Trace(float[] w, float[] h, int m, int n)
    {
        double trace = 0;
        for (int r = 0; r < m; r++)
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    trace += (double)w[r * n + i] * h[i * n + j] * w[r * n + j];
        return trace;
    }
}
