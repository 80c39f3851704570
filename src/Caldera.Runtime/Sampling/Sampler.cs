using System.Numerics.Tensors;
using Caldera.Runtime.Kernels;

namespace Caldera.Runtime.Sampling;

/// <summary>
/// Picks the next token from the logits (see <see cref="SamplingOptions"/>). Every buffer is sized to the
/// vocabulary once, so sampling a token allocates nothing.
/// </summary>
internal sealed class Sampler
{
    private readonly SamplingOptions _options;
    private readonly float[] _probabilities;
    /// <summary>Candidates as <see cref="TokenProbability"/> keys.</summary>
    private readonly ulong[] _candidates;
    private readonly int[] _penalisedAt;
    private int _stamp;
    private Pcg32 _random;

    public Sampler(int vocabSize, SamplingOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabSize);
        _options = options.Validate();
        _probabilities = new float[vocabSize];
        _candidates = new ulong[vocabSize];
        _penalisedAt = new int[vocabSize];
        _random = new Pcg32(options.Seed ?? (ulong)DateTime.UtcNow.Ticks);
    }

    public int VocabSize => _probabilities.Length;

    /// <summary>The next token after <paramref name="history"/> (the context so far, used by the repetition penalty).</summary>
    public int Sample(ReadOnlySpan<float> logits, ReadOnlySpan<int> history)
    {
        if (logits.Length != VocabSize) throw new ArgumentException($"{logits.Length} logits for a vocabulary of {VocabSize}", nameof(logits));
        var p = _probabilities.AsSpan();
        logits.CopyTo(p);
        if (_options.RepetitionPenalty != 1f) Penalise(p, history);
        if (_options.Temperature == 0f) return ArgMax(p);

        TensorPrimitives.Multiply(p, 1f / _options.Temperature, p);
        Softmax.Apply(p);
        float r = _random.NextSingle();
        if (_options.TopK == 0 && _options.TopP >= 1f) return SampleAll(p, r);
        return SampleNucleus(p, r);
    }

    /// <summary>Each distinct context token once: logit / penalty when positive, × penalty when negative.</summary>
    private void Penalise(Span<float> logits, ReadOnlySpan<int> history)
    {
        if (++_stamp == int.MaxValue)
        {
            Array.Clear(_penalisedAt);
            _stamp = 1;
        }
        float penalty = _options.RepetitionPenalty;
        foreach (int token in history)
        {
            if ((uint)token >= (uint)logits.Length || _penalisedAt[token] == _stamp) continue;
            _penalisedAt[token] = _stamp;
            logits[token] = logits[token] > 0 ? logits[token] / penalty : logits[token] * penalty;
        }
    }

    /// <summary>The first index of the largest logit, as llama2.c's argmax.</summary>
    private static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++)
            if (x[i] > x[best]) best = i;
        return best;
    }

    /// <summary>Inverse-CDF draw over the whole distribution.</summary>
    private static int SampleAll(ReadOnlySpan<float> p, float r)
    {
        float cumulative = 0;
        for (int i = 0; i < p.Length; i++)
        {
            cumulative += p[i];
            if (r < cumulative) return i;
        }
        return p.Length - 1; // rounding left the total just under r
    }

    /// <summary>Draws from the top-k tokens, cut to the smallest most-likely prefix holding top-p of their mass.</summary>
    private int SampleNucleus(ReadOnlySpan<float> p, float r)
    {
        int k = _options.TopK, count;
        if (k > 0 && k < p.Length)
        {
            count = SelectTopK(p, k);
        }
        else
        {
            // A token below (1 − top_p)/(V − 1) cannot be in the nucleus: even if all others were that
            // small, the rest would already hold top_p. Dropping them first keeps the sort short.
            float cutoff = _options.TopP < 1f ? (1f - _options.TopP) / (p.Length - 1) : 0f;
            count = 0;
            for (int i = 0; i < p.Length; i++)
                if (p[i] >= cutoff) _candidates[count++] = TokenProbability.Key(i, p[i]);
        }
        var candidates = _candidates.AsSpan(0, count);
        candidates.Sort();

        float mass = 0;
        foreach (ulong c in candidates) mass += TokenProbability.Probability(c);
        int last = candidates.Length - 1;
        float kept = mass;
        if (_options.TopP < 1f)
        {
            float cumulative = 0;
            for (int i = 0; i < candidates.Length; i++)
            {
                cumulative += TokenProbability.Probability(candidates[i]);
                if (cumulative > _options.TopP * mass)
                {
                    last = i;
                    kept = cumulative;
                    break;
                }
            }
        }

        float target = r * kept, running = 0;
        for (int i = 0; i <= last; i++)
        {
            running += TokenProbability.Probability(candidates[i]);
            if (target < running) return TokenProbability.Token(candidates[i]);
        }
        return TokenProbability.Token(candidates[last]);
    }

    /// <summary>Puts the k most likely tokens in _candidates[0..k) (unordered) with a heap whose root is the least likely kept (the largest key).</summary>
    private int SelectTopK(ReadOnlySpan<float> p, int k)
    {
        var heap = _candidates.AsSpan(0, k);
        for (int i = 0; i < k; i++) heap[i] = TokenProbability.Key(i, p[i]);
        for (int i = k / 2 - 1; i >= 0; i--) SiftDown(heap, i);
        for (int i = k; i < p.Length; i++)
        {
            ulong candidate = TokenProbability.Key(i, p[i]);
            if (candidate < heap[0])
            {
                heap[0] = candidate;
                SiftDown(heap, 0);
            }
        }
        return k;
    }

    /// <summary>Restores the heap below <paramref name="i"/>: every parent is less likely than its children (a larger key).</summary>
    private static void SiftDown(Span<ulong> heap, int i)
    {
        while (true)
        {
            int worst = i, left = 2 * i + 1, right = left + 1;
            if (left < heap.Length && heap[left] > heap[worst]) worst = left;
            if (right < heap.Length && heap[right] > heap[worst]) worst = right;
            if (worst == i) return;
            (heap[i], heap[worst]) = (heap[worst], heap[i]);
            i = worst;
        }
    }
}
