using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;
using Caldera.Runtime.Training.Model;

namespace Caldera.Runtime.Training.Reference;

/// <summary>
/// The float64 reference of the training pass: the Llama forward over one window and its backward written out token by
/// token with plain loops (no kernel, no threads, nothing shared with <see cref="WindowPass"/> but the model's values and
/// RoPE's frequency formula), every matrix an explicit <see cref="ReferenceLinear"/>. Slow and small-model only; it is
/// what finite differences check and what the fp32 path is compared with.
/// </summary>
internal sealed class ReferenceModel
{
    private readonly LlamaConfig _c;
    private readonly double[] _embedding, _classifier;
    private readonly ReferenceGain _outputNorm;
    private readonly Layer[] _layers;
    private readonly double[] _frequencies;

    private sealed record Layer(ReferenceGain AttentionNorm, ReferenceLinear Q, ReferenceLinear K, ReferenceLinear V, ReferenceLinear O,
        ReferenceGain FfnNorm, ReferenceLinear Gate, ReferenceLinear Up, ReferenceLinear Down)
    {
        public IEnumerable<ReferenceLinear> Linears => [Q, K, V, O, Gate, Up, Down];
    }

    public ReferenceModel(TrainableModel model)
    {
        _c = model.Config;
        static double[] D(float[] a) => Array.ConvertAll(a, f => (double)f);
        _embedding = D(model.Embedding);
        _classifier = D(model.Classifier);
        static ReferenceGain G(NormGain g) => new(g.Name, D(g.Values));
        _outputNorm = G(model.OutputNorm);
        _layers = model.Layers.Select(l => new Layer(G(l.AttentionNorm), new(l.Query), new(l.Key), new(l.Value), new(l.AttentionOutput),
            G(l.FfnNorm), new(l.Gate), new(l.Up), new(l.Down))).ToArray();
        _frequencies = new double[_c.HeadDim / 2];
        for (int p = 0; p < _frequencies.Length; p++)
            _frequencies[p] = RopeTable.Frequency(p, _c.HeadDim, _c.RopeTheta, _c.RopeScaling, _c.RopeFrequencyFactors);
    }

    /// <summary>Every block matrix in <see cref="TrainableModel.Linears"/> order.</summary>
    public IReadOnlyList<ReferenceLinear> Linears => _layers.SelectMany(l => l.Linears).ToArray();

    /// <summary>Every RMSNorm gain in <see cref="TrainableModel.Gains"/> order, each with its gradient (trained or not).</summary>
    public IReadOnlyList<ReferenceGain> Gains => [.. _layers.SelectMany(l => new[] { l.AttentionNorm, l.FfnNorm }), _outputNorm];

    /// <summary>The trained matrices in <see cref="TrainableModel.Trained"/> order.</summary>
    public IReadOnlyList<ReferenceLinear> Trained => _layers.SelectMany(l => l.Linears).Where(l => l.Rank > 0).ToArray();

    private sealed class Saved
    {
        public double[] X = [], A = [], Q = [], K = [], V = [], O = [], X1 = [], F = [], Gate = [], Up = [], H = [];
        public double RhoA, RhoF;
        public double[][] P = [];
    }

    /// <summary>Σ_t −log softmax(logits_t)[targets[t]] over the window.</summary>
    public double Loss(int[] inputs, int[] targets) => Run(inputs, (t, logits) => OneHot(logits, targets[t]), backward: false);

    /// <summary>Σ_t of the soft-target cross-entropy against <paramref name="teacher"/>'s logits (T × vocab).</summary>
    public double Loss(int[] inputs, float[] teacher) => Run(inputs, (t, logits) => Soft(logits, teacher, t), backward: false);

    /// <summary>The loss, adding its gradient to every trained matrix's and every gain's gradient arrays.</summary>
    public double Gradients(int[] inputs, int[] targets) => Run(inputs, (t, logits) => OneHot(logits, targets[t]), backward: true);

    public double Gradients(int[] inputs, float[] teacher) => Run(inputs, (t, logits) => Soft(logits, teacher, t), backward: true);

    /// <summary>Logits of every position (T × vocab).</summary>
    public double[][] Logits(int[] inputs)
    {
        var result = new double[inputs.Length][];
        Run(inputs, (t, logits) => { result[t] = logits; return (0, new double[logits.Length]); }, backward: false);
        return result;
    }

    private (double Loss, double[] Gradient) OneHot(double[] logits, int target)
    {
        var p = Softmax(logits, out double lse);
        p[target] -= 1;
        return (lse - logits[target], p);
    }

    private (double Loss, double[] Gradient) Soft(double[] logits, float[] teacher, int t)
    {
        int vocab = logits.Length;
        var q = Softmax(Enumerable.Range(0, vocab).Select(v => (double)teacher[t * vocab + v]).ToArray(), out _);
        var p = Softmax(logits, out double lse);
        double loss = lse;
        for (int v = 0; v < vocab; v++)
        {
            loss -= q[v] * logits[v];
            p[v] -= q[v];
        }
        return (loss, p);
    }

    private static double[] Softmax(double[] logits, out double lse)
    {
        double max = logits.Max(), sum = 0;
        var p = new double[logits.Length];
        for (int v = 0; v < p.Length; v++) sum += p[v] = Math.Exp(logits[v] - max);
        for (int v = 0; v < p.Length; v++) p[v] /= sum;
        lse = max + Math.Log(sum);
        return p;
    }

    private double Run(int[] inputs, Func<int, double[], (double Loss, double[] Gradient)> objective, bool backward)
    {
        int n = inputs.Length, d = _c.Dim, vocab = _c.VocabSize;
        var x = new double[n][];
        for (int t = 0; t < n; t++) x[t] = _embedding.AsSpan(inputs[t] * d, d).ToArray();
        var saved = new Saved[_layers.Length][];
        for (int l = 0; l < _layers.Length; l++) x = Block(_layers[l], x, saved[l] = new Saved[n]);

        double loss = 0;
        var dx = new double[n][];
        for (int t = 0; t < n; t++)
        {
            var h = RmsNorm(x[t], _outputNorm, out double rho);
            var logits = ReferenceLinear.MatVec(_classifier, h, vocab, d);
            var (l, dLogits) = objective(t, logits);
            loss += l;
            if (backward) dx[t] = RmsNormBackward(x[t], _outputNorm, rho, ReferenceLinear.TransposedMatVec(_classifier, dLogits, vocab, d));
        }
        if (backward)
            for (int l = _layers.Length - 1; l >= 0; l--) dx = BlockBackward(_layers[l], saved[l], dx);
        return loss;
    }

    private double[][] Block(Layer w, double[][] x, Saved[] saved)
    {
        int n = x.Length, hd = _c.HeadDim, group = _c.HeadCount / _c.KvHeadCount;
        var output = new double[n][];
        for (int t = 0; t < n; t++)
        {
            var s = saved[t] = new Saved { X = x[t] };
            s.A = RmsNorm(x[t], w.AttentionNorm, out s.RhoA);
            s.Q = Rotate(w.Q.Forward(s.A), t, 1);
            s.K = Rotate(w.K.Forward(s.A), t, 1);
            s.V = w.V.Forward(s.A);
        }
        for (int t = 0; t < n; t++)
        {
            var s = saved[t];
            s.O = new double[_c.QDim];
            s.P = new double[_c.HeadCount][];
            for (int h = 0; h < _c.HeadCount; h++)
            {
                int kv = h / group * hd;
                var scores = new double[t + 1];
                for (int p = 0; p <= t; p++)
                {
                    double dot = 0;
                    for (int i = 0; i < hd; i++) dot += s.Q[h * hd + i] * saved[p].K[kv + i];
                    scores[p] = dot / Math.Sqrt(hd);
                }
                var att = s.P[h] = Softmax(scores, out _);
                for (int p = 0; p <= t; p++)
                    for (int i = 0; i < hd; i++) s.O[h * hd + i] += att[p] * saved[p].V[kv + i];
            }
            s.X1 = Add(x[t], w.O.Forward(s.O));
            s.F = RmsNorm(s.X1, w.FfnNorm, out s.RhoF);
            s.Gate = w.Gate.Forward(s.F);
            s.Up = w.Up.Forward(s.F);
            s.H = new double[s.Gate.Length];
            for (int i = 0; i < s.H.Length; i++) s.H[i] = s.Gate[i] / (1 + Math.Exp(-s.Gate[i])) * s.Up[i];
            output[t] = Add(s.X1, w.Down.Forward(s.H));
        }
        return output;
    }

    private double[][] BlockBackward(Layer w, Saved[] saved, double[][] dOut)
    {
        int n = dOut.Length, hd = _c.HeadDim, group = _c.HeadCount / _c.KvHeadCount;
        var dx1 = new double[n][];
        var dO = new double[n][];
        for (int t = 0; t < n; t++)
        {
            var s = saved[t];
            var dh = w.Down.Backward(s.H, dOut[t]);
            var dGate = new double[dh.Length];
            var dUp = new double[dh.Length];
            for (int i = 0; i < dh.Length; i++)
            {
                double g = s.Gate[i], sigma = 1 / (1 + Math.Exp(-g));
                dUp[i] = dh[i] * g * sigma;
                dGate[i] = dh[i] * s.Up[i] * sigma * (1 + g * (1 - sigma));
            }
            var df = Add(w.Gate.Backward(s.F, dGate), w.Up.Backward(s.F, dUp));
            dx1[t] = Add(dOut[t], RmsNormBackward(s.X1, w.FfnNorm, s.RhoF, df));
            dO[t] = w.O.Backward(s.O, dx1[t]);
        }
        var dq = new double[n][];
        var dk = new double[n][];
        var dv = new double[n][];
        for (int t = 0; t < n; t++)
        {
            dq[t] = new double[_c.QDim];
            dk[t] = new double[_c.KvDim];
            dv[t] = new double[_c.KvDim];
        }
        double c = 1 / Math.Sqrt(hd);
        for (int t = 0; t < n; t++)
        {
            var s = saved[t];
            for (int h = 0; h < _c.HeadCount; h++)
            {
                int kv = h / group * hd;
                var att = s.P[h];
                var dP = new double[t + 1];
                double weighted = 0;
                for (int p = 0; p <= t; p++)
                {
                    for (int i = 0; i < hd; i++)
                    {
                        dP[p] += dO[t][h * hd + i] * saved[p].V[kv + i];
                        dv[p][kv + i] += att[p] * dO[t][h * hd + i];
                    }
                    weighted += att[p] * dP[p];
                }
                for (int p = 0; p <= t; p++)
                {
                    double dS = att[p] * (dP[p] - weighted);
                    for (int i = 0; i < hd; i++)
                    {
                        dq[t][h * hd + i] += c * dS * saved[p].K[kv + i];
                        dk[p][kv + i] += c * dS * s.Q[h * hd + i];
                    }
                }
            }
        }
        var dx = new double[n][];
        for (int t = 0; t < n; t++)
        {
            var s = saved[t];
            var da = Add(Add(w.Q.Backward(s.A, Rotate(dq[t], t, -1)), w.K.Backward(s.A, Rotate(dk[t], t, -1))), w.V.Backward(s.A, dv[t]));
            dx[t] = Add(dx1[t], RmsNormBackward(s.X, w.AttentionNorm, s.RhoA, da));
        }
        return dx;
    }

    // Rotates every head's pairs by direction·position·ω_p.
    private double[] Rotate(double[] x, int position, int direction)
    {
        int hd = _c.HeadDim, half = hd / 2;
        var y = (double[])x.Clone();
        for (int head = 0; head < x.Length; head += hd)
            for (int p = 0; p < half; p++)
            {
                (int i, int j) = _c.RopePairing == RopePairing.Interleaved ? (2 * p, 2 * p + 1) : (p, p + half);
                double angle = direction * position * _frequencies[p];
                double cos = Math.Cos(angle), sin = Math.Sin(angle);
                y[head + i] = x[head + i] * cos - x[head + j] * sin;
                y[head + j] = x[head + j] * cos + x[head + i] * sin;
            }
        return y;
    }

    private double[] RmsNorm(double[] x, ReferenceGain gain, out double rho)
    {
        double ss = 0;
        foreach (double v in x) ss += v * v;
        rho = 1 / Math.Sqrt(ss / x.Length + _c.NormEpsilon);
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = gain.Values[i] * rho * x[i];
        return y;
    }

    // dx, adding dL/dg_i = dy_i·ρ·x_i to the gain's gradient.
    private static double[] RmsNormBackward(double[] x, ReferenceGain norm, double rho, double[] dy)
    {
        var gain = norm.Values;
        for (int i = 0; i < x.Length; i++) norm.Gradient[i] += dy[i] * rho * x[i];
        double dot = 0;
        for (int i = 0; i < x.Length; i++) dot += gain[i] * dy[i] * x[i];
        var dx = new double[x.Length];
        for (int i = 0; i < x.Length; i++) dx[i] = rho * gain[i] * dy[i] - rho * rho * rho / x.Length * dot * x[i];
        return dx;
    }

    private static double[] Add(double[] a, double[] b)
    {
        var y = new double[a.Length];
        for (int i = 0; i < a.Length; i++) y[i] = a[i] + b[i];
        return y;
    }
}
