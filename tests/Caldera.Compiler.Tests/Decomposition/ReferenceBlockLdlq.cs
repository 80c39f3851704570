using Caldera.Compiler.LinearAlgebra;
using Caldera.Compiler.Quantizers;

namespace Caldera.Compiler.Tests.Decomposition;

/// <summary>
/// BlockLDLQ written the plain way, for differential tests: one row at a time in fp64, the first pass left-looking
/// (T_j = B_j + Σ_{i>j} E_i·L_ij, summed term by term), then sweeps that keep g = e·H current with one update per
/// changed coordinate, exactly as QuIP# describes it. Only the codeword search runs in fp32 (it is exact).
/// </summary>
internal static class ReferenceBlockLdlq
{
    private const int Block = 8;

    public static Matrix<float> Round(Matrix<float> b, Matrix<double> h, int sweeps)
    {
        int m = b.Rows, n = b.Cols, blocks = (n + Block - 1) / Block, padded = blocks * Block;
        var hp = Padded(h, padded);
        Assert.True(BlockLdl.TryDecompose(hp, Block, out var ldl));
        var inverses = new Matrix<double>[blocks];
        for (int j = 0; j < blocks; j++)
            inverses[j] = LeastSquares.PseudoInverseSolve(hp.Slice(j * Block, Block, j * Block, Block), Matrix<double>.Identity(Block), 1);

        var rounded = new Matrix<float>(m, n);
        double[] lower = ldl.Lower.Data;
        for (int r = 0; r < m; r++)
        {
            var row = new RowRounder(b.Row(r).ToArray(), rounded, r, hp);
            var t = new double[Block];
            for (int j = blocks - 1; j >= 0; j--)
            {
                int c0 = j * Block;
                for (int c = 0; c < Block; c++)
                {
                    double sum = c0 + c < n ? row.B[c0 + c] : 0;
                    for (int i = c0 + Block; i < padded; i++) sum += row.E[i] * lower[i * padded + c0 + c];
                    t[c] = sum;
                }
                row.RoundBlock(j, t, null);
            }

            if (sweeps == 0) continue;
            var g = new double[padded];
            for (int i = 0; i < padded; i++)
            {
                var hRow = hp.Row(i);
                for (int k = 0; k < padded; k++) g[k] += row.E[i] * hRow[k];
            }
            for (int s = 0; s < sweeps; s++)
                for (int j = blocks - 1; j >= 0; j--)
                {
                    int c0 = j * Block;
                    for (int c = 0; c < Block; c++)
                    {
                        double sum = c0 + c < n ? rounded[r, c0 + c] : 0;
                        for (int d = 0; d < Block; d++) sum += g[c0 + d] * inverses[j][d, c];
                        t[c] = sum;
                    }
                    row.RoundBlock(j, t, g);
                }
        }
        return rounded;
    }

    /// <summary>One row's state: B_r, Q̂_r (in the result) and e_r = B_r − Q̂_r padded.</summary>
    private sealed class RowRounder(float[] b, Matrix<float> rounded, int r, Matrix<double> hp)
    {
        private readonly float[] target = new float[Block], q = new float[Block];
        private readonly ushort[] code = new ushort[1];

        public float[] B => b;
        public double[] E { get; } = new double[hp.Rows];

        /// <summary>Q̂_j = NN(t); where a coordinate changes by δ, e follows and g −= δ·H[c, :].</summary>
        public void RoundBlock(int j, ReadOnlySpan<double> t, double[]? g)
        {
            int c0 = j * Block, width = Math.Min(Block, b.Length - c0);
            for (int c = 0; c < width; c++) target[c] = (float)t[c];
            E8PCodebook.QuantizeRow(target.AsSpan(0, width), q.AsSpan(0, width), code);
            for (int c = 0; c < width; c++)
            {
                double delta = q[c] - rounded[r, c0 + c];
                if (delta == 0) continue;
                rounded[r, c0 + c] = q[c];
                E[c0 + c] = b[c0 + c] - q[c];
                if (g == null) continue;
                var hRow = hp.Row(c0 + c);
                for (int k = 0; k < g.Length; k++) g[k] -= delta * hRow[k];
            }
        }
    }

    /// <summary>tr((B − Q̂)·H·(B − Q̂)ᵀ) in fp64: the objective BlockLDLQ minimises.</summary>
    public static double ProxyLoss(Matrix<float> b, Matrix<float> rounded, Matrix<double> h)
    {
        int n = b.Cols;
        double loss = 0;
        var e = new double[n];
        for (int r = 0; r < b.Rows; r++)
        {
            for (int c = 0; c < n; c++) e[c] = (double)b[r, c] - rounded[r, c];
            for (int i = 0; i < n; i++)
            {
                double hi = 0;
                for (int k = 0; k < n; k++) hi += h[i, k] * e[k];
                loss += e[i] * hi;
            }
        }
        return loss;
    }

    /// <summary>H padded to whole blocks with unit-variance (mean diagonal) dimensions that have no cross terms.</summary>
    public static Matrix<double> Padded(Matrix<double> h, int padded)
    {
        int n = h.Rows;
        var hp = new Matrix<double>(padded, padded);
        double mean = 0;
        for (int i = 0; i < n; i++) mean += h[i, i] / n;
        for (int i = 0; i < n; i++) h.Row(i).CopyTo(hp.Row(i)[..n]);
        for (int i = n; i < padded; i++) hp[i, i] = mean;
        return hp;
    }
}
