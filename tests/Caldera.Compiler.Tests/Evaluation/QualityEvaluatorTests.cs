using Caldera.Compiler.Evaluation;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tokenization;

namespace Caldera.Compiler.Tests.Evaluation;

public class QualityEvaluatorTests
{
    /// <summary>
    /// The evaluator reads batched prefill logits, the direct computation token-by-token decode logits (matrix–
    /// vector kernels): fp32 differences of ~1e-6 per logit move mean NLL and KL by far less than 1e-4 relative.
    /// </summary>
    private const double MetricTolerance = 1e-4;

    private const int Context = 64;

    private static int[] Tokens()
    {
        var tokenizer = ModelTokenizer.Load(TestModels.Tok512Model);
        return tokenizer.Encode(TestModels.TinyStoriesPrefix(4_000), addBos: true);
    }

    [Fact]
    public void A_model_against_itself_has_zero_divergence_and_the_directly_computed_perplexity()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        var tokens = Tokens();
        var metrics = QualityEvaluator.Evaluate(o => new Transformer(model, o), o => new Transformer(model, o), tokens, Context, bosId: 1, threads: 2);

        var direct = Direct(model, model, tokens);
        Assert.Equal(tokens.Length / Context, metrics.Chunks);
        Assert.Equal(metrics.Chunks * (Context / 2 - 1), metrics.ScoredTokens);
        Assert.Equal(direct.Perplexity, metrics.Perplexity, direct.Perplexity * MetricTolerance);
        Assert.Equal(metrics.Perplexity, metrics.ReferencePerplexity!.Value, 12);
        Assert.Equal(0, metrics.MeanKlDivergence!.Value);
        Assert.Equal(1, metrics.Top1Agreement!.Value);
        Assert.InRange(metrics.Perplexity, 2, 30); // stories260K on TinyStories text: a trained model, far below the 512 of chance
    }

    [Fact]
    public void A_perturbed_copy_diverges_as_the_direct_computation_says()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        using var perturbed = Perturbed(model, TensorNames.Down(2), relativeNoise: 0.5f);
        var tokens = Tokens();
        var metrics = QualityEvaluator.Evaluate(o => new Transformer(perturbed, o), o => new Transformer(model, o), tokens, Context, bosId: 1, threads: 2);

        var direct = Direct(perturbed, model, tokens);
        Assert.True(metrics.MeanKlDivergence > 1e-3, $"KLD {metrics.MeanKlDivergence}");
        Assert.Equal(direct.Kld, metrics.MeanKlDivergence!.Value, direct.Kld * MetricTolerance);
        Assert.Equal(direct.Perplexity, metrics.Perplexity, direct.Perplexity * MetricTolerance);
        Assert.Equal(direct.ReferencePerplexity, metrics.ReferencePerplexity!.Value, direct.ReferencePerplexity * MetricTolerance);
        // Argmax may flip on a near-tie between the two kernels; allow one position in a hundred.
        Assert.InRange(metrics.Top1Agreement!.Value, direct.Agreement - 0.01, direct.Agreement + 0.01);
        Assert.True(metrics.Top1Agreement < 1);
    }

    [Fact]
    public void The_quantised_classifiers_run_in_the_model_and_never_in_the_reference()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        var tokens = Tokens()[..(8 * Context)];
        var plain = QualityEvaluator.Evaluate(o => new Transformer(model, o), o => new Transformer(model, o), tokens, Context, bosId: 1, threads: 2);
        var int8 = Evaluate(ClassifierPrecision.Int8);
        var int6 = Evaluate(ClassifierPrecision.Int6);

        Assert.Equal(plain.Perplexity, int8.ReferencePerplexity!.Value, 12);
        Assert.Equal(plain.Perplexity, int6.ReferencePerplexity!.Value, 12);
        // Rounding the classifier's weights and input moves the distribution a little (docs/quality.md: KLD 1.5·10⁻⁵ for
        // int8 on tinystories-256d), far less than a perturbed matrix does (above: > 10⁻³). 6-bit weights move it more, but
        // at most by the ratio of the rounding variances, (127/31)², since KLD grows with the logits' noise variance for
        // small noise and only the weights' share of it grows (measured here: 7.3×).
        Assert.InRange(int8.MeanKlDivergence!.Value, 1e-9, 1e-3);
        Assert.InRange(int6.MeanKlDivergence!.Value, int8.MeanKlDivergence!.Value, int8.MeanKlDivergence!.Value * (127.0 / 31) * (127.0 / 31));

        QualityMetrics Evaluate(ClassifierPrecision classifier) =>
            QualityEvaluator.Evaluate(o => new Transformer(model, o), o => new Transformer(model, o), tokens, Context, bosId: 1, threads: 2,
                classifier: classifier);
    }

    [Fact]
    public void Too_little_text_is_an_error()
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        var error = Assert.Throws<ArgumentException>(() => QualityEvaluator.Evaluate(o => new Transformer(model, o), null, new int[Context - 1], Context, 1));
        Assert.Contains("fewer than one chunk", error.Message);
    }

    /// <summary>llama.cpp's definitions with plain loops in fp64 over one-token-at-a-time decode logits.</summary>
    private static (double Perplexity, double ReferencePerplexity, double Kld, double Agreement) Direct(ModelCheckpoint model, ModelCheckpoint reference, int[] tokens)
    {
        var options = new TransformerOptions { Threads = 1, ContextLength = Context };
        using var m = new Transformer(model, options);
        using var r = new Transformer(reference, options);
        double nll = 0, referenceNll = 0, kl = 0;
        int scored = 0, agree = 0;
        for (int chunk = 0; chunk < tokens.Length / Context; chunk++)
        {
            var ids = tokens.AsSpan(chunk * Context, Context).ToArray();
            ids[0] = 1;
            for (int pos = 0; pos < Context - 1; pos++)
            {
                var p = LogSoftmax(m.Decode(ids[pos], pos));
                var q = LogSoftmax(r.Decode(ids[pos], pos));
                if (pos < Context / 2) continue;
                nll -= p[ids[pos + 1]];
                referenceNll -= q[ids[pos + 1]];
                for (int v = 0; v < p.Length; v++) kl += Math.Exp(q[v]) * (q[v] - p[v]);
                if (Array.IndexOf(p, p.Max()) == Array.IndexOf(q, q.Max())) agree++;
                scored++;
            }
        }
        return (Math.Exp(nll / scored), Math.Exp(referenceNll / scored), kl / scored, (double)agree / scored);
    }

    private static double[] LogSoftmax(ReadOnlySpan<float> logits)
    {
        double max = double.NegativeInfinity, sum = 0;
        foreach (float z in logits) max = Math.Max(max, z);
        foreach (float z in logits) sum += Math.Exp(z - max);
        var result = new double[logits.Length];
        for (int v = 0; v < logits.Length; v++) result[v] = logits[v] - max - Math.Log(sum);
        return result;
    }

    /// <summary>A copy of <paramref name="model"/> with W ← W ⊙ (1 + noise·N(0,1)) for one matrix.</summary>
    private static ModelCheckpoint Perturbed(ModelCheckpoint model, string tensor, float relativeNoise)
    {
        var builder = new InMemoryCheckpoint(model.Config, "perturbed");
        var random = new Random(17);
        foreach (var (name, view) in model.Tensors)
        {
            var values = view.ToArray();
            if (name == tensor)
                for (int i = 0; i < values.Length; i++) values[i] *= 1 + relativeNoise * TestData.StandardNormal(random);
            builder.Add(name, view.Shape, TensorType.F32, values);
        }
        return builder.Build();
    }
}
