using Caldera.Runtime.Inference;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;
using Caldera.Runtime.Sampling;
using Caldera.Runtime.Tokenization;
using Caldera.Runtime.Tests.Kernels;

namespace Caldera.Runtime.Tests.Inference;

public unsafe class Int8ClassifierTests
{
    /// <summary>
    /// Both W and x lose at most half a level per entry (max_b/254), an RMS error of max_b/440 for uniform rounding: for
    /// the final states and classifier rows of these models (max_b ≈ 3σ over 32 entries, heavier-tailed than Gaussian)
    /// each factor carries ≈ 0.7 % relative noise, independent across the vocabulary, so the logits ≈ 1 % of their spread
    /// (measured: 1.0 % on stories260K, 1.3 % on tinystories-256d). 3 % leaves room for other prompts, while a wrong
    /// scale, block or row (an error of tens of percent of the logits) fails.
    /// </summary>
    private const double RelativeLogitTolerance = 0.03;

    [Theory]
    [InlineData(nameof(TensorType.F32))]
    [InlineData(nameof(TensorType.F16))]
    [InlineData(nameof(TensorType.BF16))]
    public void The_layer_is_the_kernel_on_the_quantised_rows_of_any_stored_type(string typeName)
    {
        var type = Enum.Parse<TensorType>(typeName);
        const int rows = 37, columns = 75;
        var (stored, values) = KernelData.Weights(rows * columns, type, seed: 11);
        using var pool = new WorkerPool(1);
        var matrix = Int8Copy(stored, rows, columns, type, pool);
        int padded = Int8Blocks.PaddedLength(columns), blocks = Int8Blocks.BlockCount(columns);
        var weights = new sbyte[rows * padded];
        var weightScales = new float[rows * blocks];
        for (int r = 0; r < rows; r++)
        {
            Int8Blocks.Quantize(values.AsSpan(r * columns, columns), weights.AsSpan(r * padded, padded), weightScales.AsSpan(r * blocks, blocks));
            Assert.True(matrix.RowLevels(r).SequenceEqual(weights.AsSpan(r * padded, padded)), $"row {r} levels");
            Assert.True(matrix.RowScales(r).SequenceEqual(weightScales.AsSpan(r * blocks, blocks)), $"row {r} scales");
        }
        var x = KernelData.Floats(columns, seed: 12);
        var levels = new sbyte[padded];
        var levelScales = new float[blocks];
        Int8Blocks.Quantize(x, levels, levelScales);
        var expected = new float[rows];
        Int8BlockRows.DotRows(weights, weightScales, levels, levelScales, expected);
        var y = new float[rows];
        matrix.Apply(x, y);
        Assert.Equal(expected, y);
    }

    [Theory]
    [InlineData("stories260K")]
    [InlineData("tinystories-256d")]
    public void Int8Classifier_keeps_a_real_models_logits_within_the_quantisation_error(string name)
    {
        var (worst, argmaxChanges) = LogitError(name, ClassifierPrecision.Int8);
        Assert.True(worst <= RelativeLogitTolerance, $"{name}: int8 logits are {worst:P2} of the logits' spread off");
        Assert.Equal(0, argmaxChanges);
    }

    [Fact]
    public void Greedy_generation_with_the_int8_classifier_keeps_stories260Ks_story()
    {
        // The reference prompt's greedy continuation (llama2.c's, pinned in GenerationTests) survives the int8 classifier.
        Assert.Equal(Greedy200(ClassifierPrecision.Stored), Greedy200(ClassifierPrecision.Int8));
    }

    /// <summary>
    /// stories260K's greedy continuation of "Once upon a time" over 200 positions (llama2.c's and caldera run's
    /// <c>--steps 200</c>) with the classifier at <paramref name="precision"/>.
    /// </summary>
    internal static string Greedy200(ClassifierPrecision precision)
    {
        using var model = ModelCheckpoint.Open(TestModels.Stories260KBin);
        using var transformer = new Transformer(model, new TransformerOptions { Threads = 1, ClassifierPrecision = precision });
        var tokenizer = ModelTokenizer.Load(TestModels.Tok512Model);
        // The prompt fills its positions and the last one yields the first token: 200 positions give 201 − prompt tokens.
        int output = 201 - tokenizer.Encode("Once upon a time", addBos: true).Length;
        var greedy = new GenerationOptions { MaxOutputTokens = output, Sampling = new SamplingOptions { Temperature = 0 }, EchoPrompt = true };
        return new TextGenerator(transformer, tokenizer).GenerateText("Once upon a time", greedy);
    }

    /// <summary>
    /// Top-two gaps of the stored classifier's logits below this are near ties, where an argmax may change for rounding
    /// alone (and differently with the CPU's vector width): five times the 6-bit classifier's RMS logit error (0.10 at
    /// stories260K's last prompt token, whose top two logits are 0.10 apart). Above it an argmax must not change.
    /// </summary>
    internal const double NearTie = 0.5;

    /// <summary>
    /// A prompt's logits with the classifier at <paramref name="precision"/> against the stored classifier's: the worst
    /// token's RMS difference relative to the logits' spread, and how many tokens' argmax changed where the stored
    /// logits' top two are at least <see cref="NearTie"/> apart.
    /// </summary>
    internal static (double Worst, int ArgmaxChanges) LogitError(string name, ClassifierPrecision precision)
    {
        using var model = ModelCheckpoint.Open(name == "stories260K" ? TestModels.Stories260KBin : TestModels.TinyStories256dGguf);
        int[] tokens = [1, 403, 407, 261, 378, 11, 300, 400, 290, 280, 270, 330];
        int vocab = model.Config.VocabSize;
        var expected = new float[tokens.Length * vocab];
        var actual = new float[tokens.Length * vocab];
        using (var dense = new Transformer(model, new TransformerOptions { Threads = 1, ContextLength = 64 }))
            dense.Prefill(tokens, 0, expected);
        using (var quantised = new Transformer(model, new TransformerOptions { Threads = 2, ContextLength = 64, ClassifierPrecision = precision }))
            quantised.Prefill(tokens, 0, actual);
        double worst = 0;
        int argmaxChanges = 0;
        for (int t = 0; t < tokens.Length; t++)
        {
            var e = expected.AsSpan(t * vocab, vocab);
            var a = actual.AsSpan(t * vocab, vocab);
            double mean = 0;
            foreach (float v in e) mean += v;
            mean /= vocab;
            double difference = 0, spread = 0;
            for (int i = 0; i < vocab; i++)
            {
                difference += (a[i] - (double)e[i]) * (a[i] - e[i]);
                spread += (e[i] - mean) * (e[i] - mean);
            }
            Assert.True(difference > 0, $"the {precision} classifier did not change the arithmetic");
            worst = Math.Max(worst, Math.Sqrt(difference / spread));
            if (ArgMax(e) != ArgMax(a) && TopTwoGap(e) >= NearTie) argmaxChanges++;
        }
        return (worst, argmaxChanges);
    }

    private static float TopTwoGap(ReadOnlySpan<float> logits)
    {
        float first = float.NegativeInfinity, second = float.NegativeInfinity;
        foreach (float v in logits)
        {
            if (v > first) (second, first) = (first, v);
            else if (v > second) second = v;
        }
        return first - second;
    }

    private static int ArgMax(ReadOnlySpan<float> z)
    {
        int best = 0;
        for (int i = 1; i < z.Length; i++)
            if (z[i] > z[best]) best = i;
        return best;
    }

    /// <summary>The int8 copy of a [rows, columns] matrix stored in <paramref name="stored"/>, which it reads only while it is built.</summary>
    private static Int8DenseLinear Int8Copy(byte[] stored, int rows, int columns, TensorType type, WorkerPool pool)
    {
        fixed (byte* p = stored) return new Int8DenseLinear(new TensorView("w", [rows, columns], type, p), pool);
    }
}
