using Caldera.Compiler.Calibration;
using Caldera.Compiler.LinearAlgebra;
using Caldera.Runtime.Model;

namespace Caldera.Compiler.Tests.Calibration;

/// <summary>
/// Block 0's four linear inputs written out in fp64 with plain loops (llama2.c's math: RMSNorm, interleaved
/// RoPE with θ = 10000, causal grouped-query attention, SwiGLU), and their second moments Σ x·xᵀ / N: the
/// direct computation the calibrator is checked against.
/// </summary>
internal static class DirectFirstLayer
{
    public static Matrix<double>[] Hessians(ModelCheckpoint model, CalibrationSet set)
    {
        var c = model.Config;
        Assert.Equal(RopePairing.Interleaved, c.RopePairing);
        float[] T(string name) => model.Tensor(name).ToArray();
        float[] embedding = T(TensorNames.TokenEmbedding), attnNorm = T(TensorNames.AttentionNorm(0)), ffnNorm = T(TensorNames.FfnNorm(0));
        float[] wq = T(TensorNames.Query(0)), wk = T(TensorNames.Key(0)), wv = T(TensorNames.Value(0)), wo = T(TensorNames.AttentionOutput(0));
        float[] wGate = T(TensorNames.Gate(0)), wUp = T(TensorNames.Up(0));
        int dim = c.Dim, hd = c.HeadDim, qDim = c.QDim, kvDim = c.KvDim, hidden = c.HiddenDim, group = c.HeadCount / c.KvHeadCount;
        var sums = new[] { new Matrix<double>(dim, dim), new Matrix<double>(qDim, qDim), new Matrix<double>(dim, dim), new Matrix<double>(hidden, hidden) };

        for (int s = 0; s < set.Samples; s++)
        {
            var keys = new List<double[]>();
            var values = new List<double[]>();
            var tokens = set.Sequence(s);
            for (int pos = 0; pos < tokens.Length; pos++)
            {
                var x = new double[dim];
                for (int i = 0; i < dim; i++) x[i] = embedding[tokens[pos] * dim + i];
                var a = RmsNorm(x, attnNorm, c.NormEpsilon);
                var q = Rope(MatVec(wq, a, qDim), pos, hd, c.RopeTheta);
                keys.Add(Rope(MatVec(wk, a, kvDim), pos, hd, c.RopeTheta));
                values.Add(MatVec(wv, a, kvDim));
                var attention = new double[qDim];
                for (int h = 0; h < c.HeadCount; h++)
                {
                    int kv = h / group * hd;
                    var scores = new double[pos + 1];
                    for (int p = 0; p <= pos; p++)
                    {
                        double dot = 0;
                        for (int i = 0; i < hd; i++) dot += q[h * hd + i] * keys[p][kv + i];
                        scores[p] = dot / Math.Sqrt(hd);
                    }
                    double max = scores.Max(), total = 0;
                    for (int p = 0; p <= pos; p++) total += scores[p] = Math.Exp(scores[p] - max);
                    for (int p = 0; p <= pos; p++)
                        for (int i = 0; i < hd; i++) attention[h * hd + i] += scores[p] / total * values[p][kv + i];
                }
                var o = MatVec(wo, attention, dim);
                for (int i = 0; i < dim; i++) x[i] += o[i];
                var f = RmsNorm(x, ffnNorm, c.NormEpsilon);
                var gate = MatVec(wGate, f, hidden);
                var up = MatVec(wUp, f, hidden);
                var down = new double[hidden];
                for (int i = 0; i < hidden; i++) down[i] = gate[i] / (1 + Math.Exp(-gate[i])) * up[i];

                AddOuter(sums[0], a);
                AddOuter(sums[1], attention);
                AddOuter(sums[2], f);
                AddOuter(sums[3], down);
            }
        }
        foreach (var m in sums)
            for (int i = 0; i < m.Data.Length; i++) m.Data[i] /= set.Tokens.Length;
        return sums;
    }

    private static double[] RmsNorm(double[] x, float[] gain, float epsilon)
    {
        double ss = 0;
        foreach (double v in x) ss += v * v;
        double scale = 1 / Math.Sqrt(ss / x.Length + epsilon);
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = x[i] * scale * gain[i];
        return y;
    }

    private static double[] MatVec(float[] w, double[] x, int rows)
    {
        var y = new double[rows];
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < x.Length; i++) y[r] += w[r * x.Length + i] * x[i];
        return y;
    }

    /// <summary>Rotates pairs (2i, 2i+1) of each head by pos·θ^(−2i/headDim).</summary>
    private static double[] Rope(double[] v, int pos, int headDim, float theta)
    {
        for (int i = 0; i < v.Length; i += 2)
        {
            double angle = pos * Math.Pow(theta, -(double)(i % headDim) / headDim);
            double v0 = v[i], v1 = v[i + 1];
            v[i] = v0 * Math.Cos(angle) - v1 * Math.Sin(angle);
            v[i + 1] = v0 * Math.Sin(angle) + v1 * Math.Cos(angle);
        }
        return v;
    }

    private static void AddOuter(Matrix<double> sum, double[] x)
    {
        for (int i = 0; i < x.Length; i++)
            for (int j = 0; j < x.Length; j++) sum[i, j] += x[i] * x[j];
    }
}
