using Caldera.Runtime.Compression;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Tests.Kernels;

namespace Caldera.Runtime.Tests.Compression;

public class CodedRowsTests
{
    /// <summary>
    /// The paths decode identical values and differ only in summation order (and FMA): float error grows like
    /// n·ε·Σ|terms|, so compare against ε = 2⁻²³ scaled by the length and the absolute sum.
    /// </summary>
    private const double RelativeTolerancePerTerm = 1.2e-7 * 4;

    private static readonly KernelPath[] Paths = [KernelPath.Scalar, .. KernelData.VectorPaths];

    [Fact]
    public void Every_path_matches_the_decode_then_dot_reference_at_many_lengths()
    {
        var random = new Random(5);
        foreach (int n in KernelData.Lengths)
        {
            var u = KernelData.Floats(n, n);
            var e8p = Words(random, E8PLattice.VectorCount(n));
            var residual = Words(random, E8PResidualLattice.WordCount(n));
            var uniform = new ushort[n];
            for (int i = 0; i < n; i++) uniform[i] = (ushort)random.Next(7);

            var decoded = new float[n];
            E8PLattice.DecodeRow(e8p, decoded);
            var (e8pDot, e8pAbs) = Dot(decoded, u);
            E8PResidualLattice.DecodeRow(residual, decoded);
            var (residualDot, residualAbs) = Dot(decoded, u);
            for (int i = 0; i < n; i++) decoded[i] = uniform[i] - 3;
            var (uniformDot, uniformAbs) = Dot(decoded, u);

            foreach (var path in Paths)
            {
                Close(e8pDot, CodedRows.DotE8P(e8p, u, path), e8pAbs, n, $"E8P n={n} {path}");
                Close(residualDot, CodedRows.DotResidual(residual, u, path), residualAbs, n, $"residual n={n} {path}");
                Close(uniformDot, CodedRows.DotUniform(uniform, 3, u, path), uniformAbs, n, $"uniform n={n} {path}");
            }
        }
    }

    [Fact]
    public void DotE8PRows_matches_the_decode_then_dot_reference_for_every_row_at_many_lengths()
    {
        var random = new Random(7);
        foreach (int n in KernelData.Lengths)
            foreach (int rows in new[] { 1, 3, 8 })
            {
                var u = KernelData.Floats(n, n + rows);
                int perRow = E8PLattice.VectorCount(n);
                var words = Words(random, rows * perRow);
                var decoded = new float[n];
                foreach (var path in Paths)
                {
                    var y = new float[rows];
                    CodedRows.DotE8PRows(words, u, y, path);
                    for (int r = 0; r < rows; r++)
                    {
                        E8PLattice.DecodeRow(words.AsSpan(r * perRow, perRow), decoded);
                        var (dot, abs) = Dot(decoded, u);
                        Close(dot, y[r], abs, n, $"rows n={n} rows={rows} r={r} {path}");
                    }
                }
            }
        Assert.Throws<ArgumentException>(() => CodedRows.DotE8PRows(new ushort[5], new float[17], new float[2]));
    }

    [Fact]
    public void Row_decoders_on_every_path_equal_the_lattice_decoders_bit_for_bit()
    {
        var random = new Random(11);
        foreach (int n in KernelData.Lengths)
        {
            var e8p = Words(random, E8PLattice.VectorCount(n));
            var residual = Words(random, E8PResidualLattice.WordCount(n));
            var expectedE8P = new float[n];
            var expectedResidual = new float[n];
            E8PLattice.DecodeRow(e8p, expectedE8P);
            E8PResidualLattice.DecodeRow(residual, expectedResidual);
            foreach (var path in Paths)
            {
                var y = new float[n];
                CodedRows.DecodeE8P(e8p, y, path);
                Assert.Equal(expectedE8P, y);
                CodedRows.DecodeResidual(residual, y, path);
                Assert.Equal(expectedResidual, y);
            }
        }
    }

    [Fact]
    public void AddResidual_paths_match_the_decoded_axpy()
    {
        var random = new Random(9);
        foreach (int n in KernelData.Lengths)
        {
            var words = Words(random, E8PResidualLattice.WordCount(n));
            var z0 = KernelData.Floats(n, n + 1);
            var decoded = new float[n];
            E8PResidualLattice.DecodeRow(words, decoded);
            foreach (var path in Paths)
            {
                var z = (float[])z0.Clone();
                CodedRows.AddResidual(words, -0.37f, z, path);
                for (int i = 0; i < n; i++)
                {
                    double expected = z0[i] + -0.37 * decoded[i];
                    Assert.True(Math.Abs(z[i] - expected) <= 4e-7 * (Math.Abs(z0[i]) + Math.Abs(0.37 * decoded[i])), $"n={n} {path} i={i}");
                }
            }
        }
    }

    [Fact]
    public void A_row_with_the_wrong_number_of_words_is_rejected()
    {
        Assert.Throws<ArgumentException>(() => CodedRows.DotE8P(new ushort[2], new float[17]));
        Assert.Throws<ArgumentException>(() => CodedRows.DotResidual(new ushort[4], new float[17]));
        Assert.Throws<ArgumentException>(() => CodedRows.AddResidual(new ushort[2], 1f, new float[9]));
    }

    private static ushort[] Words(Random random, int count)
    {
        var words = new ushort[count];
        for (int i = 0; i < count; i++) words[i] = (ushort)random.Next(1 << 16);
        return words;
    }

    private static (double Dot, double Abs) Dot(float[] a, float[] b)
    {
        double dot = 0, abs = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            abs += Math.Abs((double)a[i] * b[i]);
        }
        return (dot, abs);
    }

    private static void Close(double expected, float actual, double abs, int n, string what) =>
        Assert.True(Math.Abs(actual - expected) <= RelativeTolerancePerTerm * n * abs + 1e-30, $"{what}: {actual} vs {expected}");
}
