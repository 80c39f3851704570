using Caldera.Compiler.LinearAlgebra;

namespace Caldera.Compiler.Tests.LinearAlgebra;

/// <summary>Seeded test inputs and the error measures the linear-algebra tests assert on.</summary>
internal static class TestMatrices
{
    public static Matrix<double> Gaussian(int rows, int cols, int seed)
    {
        var random = new Random(seed);
        var m = new Matrix<double>(rows, cols);
        for (int i = 0; i < m.Data.Length; i++)
        {
            // Box–Muller from System.Random: tests only need reproducibility within one runtime.
            double u1 = 1.0 - random.NextDouble();
            double u2 = random.NextDouble();
            m.Data[i] = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
        }

        return m;
    }

    public static Matrix<float> GaussianSingle(int rows, int cols, int seed) => Gaussian(rows, cols, seed).Convert<float>();

    /// <summary>Q·diag(λ)·Qᵀ with Q a random orthogonal matrix and λ log-spaced from 1 down to 1/condition.</summary>
    public static Matrix<double> SymmetricWithSpectrum(double[] eigenvalues, int seed)
    {
        int n = eigenvalues.Length;
        Matrix<double> q = HouseholderQr.Decompose(Gaussian(n, n, seed)).Q;
        Matrix<double> qd = q.Clone();
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                qd[i, j] *= eigenvalues[j];
            }
        }

        Matrix<double> a = Gemm.Multiply(Op.N, qd, Op.T, q);
        Symmetrize(a);
        return a;
    }

    public static double[] LogSpaced(int n, double condition)
    {
        var values = new double[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = Math.Pow(condition, -(double)i / Math.Max(1, n - 1));
        }

        return values;
    }

    /// <summary>A calibration-like Hessian: H = XᵀX/N + damping·I for N Gaussian activations with correlated columns.</summary>
    public static Matrix<double> Hessian(int n, int samples, double damping, int seed)
    {
        Matrix<double> x = Gaussian(samples, n, seed);
        for (int i = 0; i < samples; i++)
        {
            Span<double> row = x.Row(i);
            for (int j = 1; j < n; j++)
            {
                row[j] = (0.7 * row[j - 1]) + (0.3 * row[j]);
            }
        }

        Matrix<double> h = Gemm.Multiply(Op.T, x, Op.N, x);
        for (int i = 0; i < h.Data.Length; i++)
        {
            h.Data[i] /= samples;
        }

        for (int i = 0; i < n; i++)
        {
            h[i, i] += damping;
        }

        Symmetrize(h);
        return h;
    }

    public static void Symmetrize(Matrix<double> a)
    {
        for (int i = 0; i < a.Rows; i++)
        {
            for (int j = 0; j < i; j++)
            {
                double mean = 0.5 * (a[i, j] + a[j, i]);
                a[i, j] = mean;
                a[j, i] = mean;
            }
        }
    }

    public static double MaxAbs(Matrix<double> a) => a.Data.Length == 0 ? 0 : a.Data.Max(Math.Abs);

    public static double MaxAbsDifference(Matrix<double> a, Matrix<double> b)
    {
        Assert.Equal(a.Rows, b.Rows);
        Assert.Equal(a.Cols, b.Cols);
        double max = 0;
        for (int i = 0; i < a.Data.Length; i++)
        {
            max = Math.Max(max, Math.Abs(a.Data[i] - b.Data[i]));
        }

        return max;
    }

    /// <summary>max |VᵀV − I|: how far V's columns are from orthonormal.</summary>
    public static double OrthogonalityError(Matrix<double> v)
    {
        Matrix<double> gram = Gemm.Multiply(Op.T, v, Op.N, v);
        for (int i = 0; i < gram.Rows; i++)
        {
            gram[i, i] -= 1;
        }

        return MaxAbs(gram);
    }

    public static bool BitwiseEqual<T>(T[] a, T[] b) where T : unmanaged
        => a.AsSpan().SequenceEqual(b);
}
