namespace Caldera.Runtime.Training.Objectives;

/// <summary>
/// A teacher's next-token distributions for one window, q_t = softmax(teacher logits_t), for distillation's soft-target
/// cross-entropy. The teacher's logits of one window (T × V) are held while the student trains on it, then replaced by
/// the next window's: the teacher runs per window, nothing is stored across windows.
/// </summary>
internal sealed class SoftTargets
{
    private readonly float[] _logits;
    private readonly float[] _logSumExp;

    public SoftTargets(float[] logits, int tokens, int vocab)
    {
        if (logits.Length < (long)tokens * vocab) throw new ArgumentException($"{logits.Length} logits for {tokens} tokens × {vocab}", nameof(logits));
        _logits = logits;
        Tokens = tokens;
        Vocab = vocab;
        _logSumExp = new float[tokens];
        for (int t = 0; t < tokens; t++)
        {
            var row = logits.AsSpan(t * vocab, vocab);
            float max = float.NegativeInfinity;
            foreach (float l in row) max = MathF.Max(max, l);
            double sum = 0;
            foreach (float l in row) sum += MathF.Exp(l - max);
            _logSumExp[t] = max + (float)Math.Log(sum);
        }
    }

    public int Tokens { get; }
    public int Vocab { get; }

    /// <summary>q_tv.</summary>
    public float Probability(int token, int v) => MathF.Exp(_logits[token * Vocab + v] - _logSumExp[token]);
}
