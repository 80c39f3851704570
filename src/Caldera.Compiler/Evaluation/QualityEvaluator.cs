using Caldera.Runtime.Inference;

namespace Caldera.Compiler.Evaluation;

/// <summary>
/// llama.cpp's <c>llama-perplexity</c> measures, so numbers are comparable: the text's tokens (BOS first) are cut
/// into consecutive chunks of ctx tokens (a tail shorter than ctx is dropped), each chunk's first token is
/// replaced by BOS and the chunk is run from position 0, and only the second half of each chunk's predictions
/// is scored (logits at positions ctx/2 … ctx−2 predicting the tokens after them: ctx/2 − 1 per chunk), so
/// every scored prediction sees at least ctx/2 tokens of context. Against a reference model it also gives mean
/// KL(P_ref ‖ P_model) and top-1 agreement over the same positions.
/// </summary>
/// <remarks>
/// Models are opened through a factory taking <see cref="TransformerOptions"/> (threads, context = ctx), so
/// anything bound as a <see cref="Transformer"/> can be evaluated: a dense checkpoint, or a compressed model's
/// weights.
/// </remarks>
internal static class QualityEvaluator
{
    public static QualityMetrics Evaluate(Func<TransformerOptions, Transformer> openModel, Func<TransformerOptions, Transformer>? openReference,
        ReadOnlySpan<int> tokens, int contextLength, int bosId, int threads = 1, CancellationToken cancellation = default, bool int8Decode = false,
        ClassifierPrecision classifier = ClassifierPrecision.Stored)
    {
        if (contextLength < 4) throw new ArgumentOutOfRangeException(nameof(contextLength), contextLength, "a chunk needs at least 4 tokens to score its second half");
        int chunks = tokens.Length / contextLength;
        if (chunks == 0)
            throw new ArgumentException($"the text gives {tokens.Length} tokens, fewer than one chunk of {contextLength}; use a longer text or a smaller --ctx", nameof(tokens));
        // An int8 evaluation prefills its chunks in batches: a batch gives every token its decode step's arithmetic bit for
        // bit (Int8DecodeSteps), so the scores are those of the one-token steps an app runs. The int8 and 6-bit
        // classifiers apply to prefill too. The reference always runs as stored.
        var options = new TransformerOptions { Threads = threads, ContextLength = contextLength, Int8Activations = false, ClassifierPrecision = ClassifierPrecision.Stored };
        var modelOptions = options with { ClassifierPrecision = classifier };
        if (int8Decode) modelOptions = modelOptions with { Int8Activations = true };
        using var model = openModel(modelOptions);
        using var reference = openReference?.Invoke(options);
        int vocab = model.Config.VocabSize;
        if (reference != null && reference.Config.VocabSize != vocab)
            throw new ArgumentException($"the reference has a vocabulary of {reference.Config.VocabSize}, the model {vocab}; compare models of the same tokenizer");

        var logits = new float[contextLength * vocab];
        var referenceLogits = reference is null ? null : new float[contextLength * vocab];
        var chunk = new int[contextLength];
        int first = contextLength / 2;
        double nllSum = 0, nllSquares = 0, referenceNllSum = 0, klSum = 0;
        long scored = 0, agree = 0;
        for (int i = 0; i < chunks; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            tokens.Slice(i * contextLength, contextLength).CopyTo(chunk);
            chunk[0] = bosId;
            model.Prefill(chunk, 0, logits);
            reference?.Prefill(chunk, 0, referenceLogits);
            for (int j = first; j < contextLength - 1; j++)
            {
                var z = logits.AsSpan(j * vocab, vocab);
                int target = chunk[j + 1];
                double logZ = NextTokenDistribution.LogNormalizer(z);
                double nll = logZ - z[target];
                nllSum += nll;
                nllSquares += nll * nll;
                scored++;
                if (referenceLogits is null) continue;
                var r = referenceLogits.AsSpan(j * vocab, vocab);
                double referenceLogZ = NextTokenDistribution.LogNormalizer(r);
                referenceNllSum += referenceLogZ - r[target];
                klSum += NextTokenDistribution.KlDivergence(r, referenceLogZ, z, logZ);
                if (ArgMax(r) == ArgMax(z)) agree++;
            }
        }

        double meanNll = nllSum / scored;
        double variance = Math.Max(nllSquares / scored - meanNll * meanNll, 0);
        double perplexity = Math.Exp(meanNll);
        double standardError = scored > 1 ? perplexity * Math.Sqrt(variance / (scored - 1)) : 0;
        bool hasReference = reference != null;
        return new QualityMetrics(perplexity, standardError,
            hasReference ? Math.Exp(referenceNllSum / scored) : null,
            hasReference ? klSum / scored : null,
            hasReference ? (double)agree / scored : null,
            chunks, contextLength, scored);
    }

    /// <summary>The first index of the largest logit (ties go to the lower id, as a greedy sampler picks).</summary>
    private static int ArgMax(ReadOnlySpan<float> z)
    {
        int best = 0;
        for (int v = 1; v < z.Length; v++)
            if (z[v] > z[best]) best = v;
        return best;
    }
}
