using Caldera.Runtime.Model;

namespace Caldera.Runtime.Tests.Inference;

/// <summary>
/// The Llama forward pass written as plainly as possible, for differential tests: plain loops over F32
/// copies of the weights (<see cref="TensorView.ToArray"/>), double accumulation, one token at a time,
/// and no runtime kernel (RoPE frequencies, llama3 scaling, GQA and the tied classifier are all worked
/// out here from the config). It reads any <see cref="ModelCheckpoint"/>, so format equivalence tests
/// (GGUF, safetensors vs llama2.c) can reuse it.
/// </summary>
internal sealed class ReferenceTransformer
{
    private readonly LlamaConfig _c;
    private readonly float[] _embedding, _outputNorm, _classifier;
    private readonly Layer[] _layers;
    private readonly List<double[]>[] _keys, _values;

    private sealed record Layer(float[] AttentionNorm, float[] Wq, float[] Wk, float[] Wv, float[] Wo, float[] FfnNorm, float[] W1, float[] W2, float[] W3);

    public ReferenceTransformer(ModelCheckpoint model)
    {
        _c = model.Config;
        float[] T(string name) => model.Tensor(name).ToArray();
        _embedding = T(TensorNames.TokenEmbedding);
        _outputNorm = T(TensorNames.OutputNorm);
        _classifier = _c.TiedClassifier ? _embedding : T(TensorNames.Output);
        _layers = new Layer[_c.LayerCount];
        for (int l = 0; l < _layers.Length; l++)
            _layers[l] = new Layer(T(TensorNames.AttentionNorm(l)), T(TensorNames.Query(l)), T(TensorNames.Key(l)), T(TensorNames.Value(l)),
                T(TensorNames.AttentionOutput(l)), T(TensorNames.FfnNorm(l)), T(TensorNames.Gate(l)), T(TensorNames.Down(l)), T(TensorNames.Up(l)));
        _keys = new List<double[]>[_c.LayerCount];
        _values = new List<double[]>[_c.LayerCount];
        for (int l = 0; l < _c.LayerCount; l++)
        {
            _keys[l] = [];
            _values[l] = [];
        }
    }

    /// <summary>Logits after each token of <paramref name="tokens"/>, fed from position 0.</summary>
    public float[][] Run(IReadOnlyList<int> tokens)
    {
        var result = new float[tokens.Count][];
        for (int pos = 0; pos < tokens.Count; pos++) result[pos] = Forward(tokens[pos], pos);
        return result;
    }

    private float[] Forward(int token, int pos)
    {
        int dim = _c.Dim, hd = _c.HeadDim;
        var x = new double[dim];
        for (int i = 0; i < dim; i++) x[i] = _embedding[token * dim + i];
        for (int l = 0; l < _c.LayerCount; l++)
        {
            var w = _layers[l];
            var xb = RmsNorm(x, w.AttentionNorm);
            var q = MatVec(w.Wq, xb, _c.QDim);
            var k = MatVec(w.Wk, xb, _c.KvDim);
            var v = MatVec(w.Wv, xb, _c.KvDim);
            for (int h = 0; h < _c.HeadCount; h++) Rotate(q, h * hd, pos);
            for (int h = 0; h < _c.KvHeadCount; h++) Rotate(k, h * hd, pos);
            _keys[l].Add(k);
            _values[l].Add(v);

            var attention = new double[_c.QDim];
            for (int h = 0; h < _c.HeadCount; h++)
            {
                int kvHead = h / (_c.HeadCount / _c.KvHeadCount);
                var scores = new double[pos + 1];
                for (int t = 0; t <= pos; t++)
                {
                    double dot = 0;
                    for (int i = 0; i < hd; i++) dot += q[h * hd + i] * _keys[l][t][kvHead * hd + i];
                    scores[t] = dot / Math.Sqrt(hd);
                }
                double max = scores.Max(), sum = 0;
                for (int t = 0; t <= pos; t++) sum += scores[t] = Math.Exp(scores[t] - max);
                for (int t = 0; t <= pos; t++)
                    for (int i = 0; i < hd; i++)
                        attention[h * hd + i] += scores[t] / sum * _values[l][t][kvHead * hd + i];
            }
            var o = MatVec(w.Wo, attention, dim);
            for (int i = 0; i < dim; i++) x[i] += o[i];

            xb = RmsNorm(x, w.FfnNorm);
            var gate = MatVec(w.W1, xb, _c.HiddenDim);
            var up = MatVec(w.W3, xb, _c.HiddenDim);
            for (int i = 0; i < gate.Length; i++) gate[i] = gate[i] / (1 + Math.Exp(-gate[i])) * up[i];
            var down = MatVec(w.W2, gate, dim);
            for (int i = 0; i < dim; i++) x[i] += down[i];
        }
        var logits = MatVec(_classifier, RmsNorm(x, _outputNorm), _c.VocabSize);
        return Array.ConvertAll(logits, d => (float)d);
    }

    /// <summary>Rotates the head at <paramref name="offset"/> by pos·ω_p per pair, pairing as the config says.</summary>
    private void Rotate(double[] v, int offset, int pos)
    {
        int hd = _c.HeadDim;
        for (int p = 0; p < hd / 2; p++)
        {
            double angle = pos * Frequency(p);
            (int i, int j) = _c.RopePairing == RopePairing.Interleaved ? (2 * p, 2 * p + 1) : (p, p + hd / 2);
            double a = v[offset + i], b = v[offset + j];
            v[offset + i] = a * Math.Cos(angle) - b * Math.Sin(angle);
            v[offset + j] = a * Math.Sin(angle) + b * Math.Cos(angle);
        }
    }

    /// <summary>θ^(−2p/d), then Llama 3.1's rule: long wavelengths slowed by the factor, short ones kept, the band between blended.</summary>
    private double Frequency(int p)
    {
        double f = Math.Pow(_c.RopeTheta, -2.0 * p / _c.HeadDim);
        if (_c.RopeScaling is not { } s) return f;
        double wavelength = 2 * Math.PI / f;
        if (wavelength < s.OriginalContextLength / s.HighFrequencyFactor) return f;
        if (wavelength > s.OriginalContextLength / s.LowFrequencyFactor) return f / s.Factor;
        double smooth = (s.OriginalContextLength / wavelength - s.LowFrequencyFactor) / (s.HighFrequencyFactor - s.LowFrequencyFactor);
        return (1 - smooth) * f / s.Factor + smooth * f;
    }

    private double[] RmsNorm(double[] x, float[] gain)
    {
        double ss = 0;
        foreach (double v in x) ss += v * v;
        double scale = 1 / Math.Sqrt(ss / x.Length + _c.NormEpsilon);
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = x[i] * scale * gain[i];
        return y;
    }

    private static double[] MatVec(float[] w, double[] x, int rows)
    {
        var y = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double sum = 0;
            for (int c = 0; c < x.Length; c++) sum += w[(long)r * x.Length + c] * x[c];
            y[r] = sum;
        }
        return y;
    }
}
