using Caldera.Runtime.Compression;

namespace Caldera.Runtime.Tests.Compression;

/// <summary>
/// Ŵ = g·diag(SV)·V_m·(Q + L·R)·U_nᵀ·diag(SU) built densely from the codes with the row decoders and the
/// transforms' whole-matrix operations, a path independent of the matrix's per-token kernels.
/// </summary>
internal static class DenseReference
{
    public static float[] Reconstruct(CompressedLinearData d)
    {
        int m = d.Rows, n = d.Columns, k = d.Rank;
        var q = new float[n];
        var w = new float[m * n];
        var l = new float[m * k];
        var r = new float[k * n];
        if (k > 0 && d.FactorBits == 4)
        {
            var column = new float[m];
            for (int j = 0; j < k; j++)
            {
                E8PResidualLattice.DecodeRow(d.LTransposedCodes.Span.Slice(j * E8PResidualLattice.WordCount(m), E8PResidualLattice.WordCount(m)), column);
                for (int i = 0; i < m; i++) l[i * k + j] = column[i] * d.LTransposedScale;
                E8PResidualLattice.DecodeRow(d.RCodes.Span.Slice(j * E8PResidualLattice.WordCount(n), E8PResidualLattice.WordCount(n)), r.AsSpan(j * n, n));
                for (int c = 0; c < n; c++) r[j * n + c] *= d.RScale;
            }
        }
        else if (k > 0)
        {
            for (int i = 0; i < l.Length; i++) l[i] = (float)d.L.Span[i];
            for (int i = 0; i < r.Length; i++) r[i] = (float)d.R.Span[i];
        }
        for (int i = 0; i < m; i++)
        {
            var words = d.QCodes.Span.Slice(i * d.QWordsPerRow, d.QWordsPerRow);
            if (d.QKind == QCodeKind.E8P) E8PLattice.DecodeRow(words, q);
            else
                for (int c = 0; c < n; c++) q[c] = words[c] - d.MaxUniformCode / 2;
            for (int c = 0; c < n; c++)
            {
                double sum = (double)d.QScale * q[c];
                for (int j = 0; j < k; j++) sum += (double)l[i * k + j] * r[j * n + c];
                w[i * n + c] = (float)sum;
            }
        }
        d.InputTransform?.ToRandomizedHadamard().InverseTransformRows(w, m);
        d.OutputTransform?.ToRandomizedHadamard().InverseTransformColumns(w, n);
        for (int i = 0; i < w.Length; i++) w[i] *= d.GlobalScale;
        return w;
    }

    /// <summary>Y[t] = W·X[t] in double.</summary>
    public static double[] Multiply(float[] w, int rows, int columns, float[] x, int tokens)
    {
        var y = new double[tokens * rows];
        for (int t = 0; t < tokens; t++)
            for (int i = 0; i < rows; i++)
            {
                double sum = 0;
                for (int c = 0; c < columns; c++) sum += (double)w[i * columns + c] * x[t * columns + c];
                y[t * rows + i] = sum;
            }
        return y;
    }

    public static void AssertClose(double[] expected, float[] actual, string what, double tolerance = 2e-5)
    {
        double rms = Math.Sqrt(expected.Sum(v => v * v) / expected.Length) + 1e-30;
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance * rms, $"{what}: [{i}] {actual[i]} vs {expected[i]} (rms {rms})");
    }
}
