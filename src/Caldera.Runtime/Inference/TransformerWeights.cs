using Caldera.Runtime.Model;

namespace Caldera.Runtime.Inference;

/// <summary>
/// The weights bound for the forward pass (llama2.c's <c>TransformerWeights</c>): the token embedding
/// stays a <see cref="TensorView"/> (one row is read per token), every matrix is an
/// <see cref="ILinear"/>, and the classifier is the embedding itself when the model ties them.
/// </summary>
public sealed class TransformerWeights
{
    public TransformerWeights(LlamaConfig config, TensorView tokenEmbedding, IReadOnlyList<LayerWeights> layers,
        float[] outputNorm, ILinear classifier)
    {
        Config = config;
        TokenEmbedding = tokenEmbedding;
        Layers = layers;
        OutputNorm = outputNorm;
        Classifier = classifier;
        Check();
    }

    public LlamaConfig Config { get; }
    public TensorView TokenEmbedding { get; }
    public IReadOnlyList<LayerWeights> Layers { get; }
    public float[] OutputNorm { get; }
    public ILinear Classifier { get; }

    /// <summary>Every matrix: the seven of each block, in block order, then the classifier.</summary>
    public IEnumerable<ILinear> LinearLayers()
    {
        foreach (var w in Layers)
        {
            yield return w.Query;
            yield return w.Key;
            yield return w.Value;
            yield return w.AttentionOutput;
            yield return w.Gate;
            yield return w.Up;
            yield return w.Down;
        }
        yield return Classifier;
    }

    /// <summary>These weights with <paramref name="classifier"/> in place of <see cref="Classifier"/> (the embedding stays as it is).</summary>
    public TransformerWeights WithClassifier(ILinear classifier) => new(Config, TokenEmbedding, Layers, OutputNorm, classifier);

    /// <summary>Binds every matrix of <paramref name="checkpoint"/> as a <see cref="DenseLinear"/> on <paramref name="pool"/>.</summary>
    public static TransformerWeights Dense(ModelCheckpoint checkpoint, WorkerPool pool) =>
        Create(checkpoint.Config, checkpoint.Tensor, name => new DenseLinear(checkpoint.Tensor(name), pool));

    /// <summary>
    /// Binds the model's tensors by canonical name (<see cref="TensorNames"/>): <paramref name="tensor"/> gives the
    /// embedding and the norm gains, <paramref name="linear"/> every matrix (the tied classifier is asked for as
    /// the embedding's name).
    /// </summary>
    public static TransformerWeights Create(LlamaConfig config, Func<string, TensorView> tensor, Func<string, ILinear> linear)
    {
        var layers = new LayerWeights[config.LayerCount];
        for (int l = 0; l < layers.Length; l++) layers[l] = LayerWeights.Create(l, tensor, linear);
        var classifier = linear(config.TiedClassifier ? TensorNames.TokenEmbedding : TensorNames.Output);
        return new TransformerWeights(config, tensor(TensorNames.TokenEmbedding), layers,
            tensor(TensorNames.OutputNorm).ToArray(), classifier);
    }

    private void Check()
    {
        var c = Config;
        if (Layers.Count != c.LayerCount) throw new ArgumentException($"{Layers.Count} layers bound but the config has {c.LayerCount}");
        if (TokenEmbedding.Rows != c.VocabSize || TokenEmbedding.Columns != c.Dim)
            throw new ArgumentException($"{TokenEmbedding} is not [{c.VocabSize}, {c.Dim}]");
        Shape(Classifier, "classifier", c.VocabSize, c.Dim);
        Norm(OutputNorm, "output norm");
        for (int l = 0; l < Layers.Count; l++)
        {
            var w = Layers[l];
            Norm(w.AttentionNorm, $"layer {l} attention norm");
            Norm(w.FfnNorm, $"layer {l} FFN norm");
            Shape(w.Query, $"layer {l} query", c.QDim, c.Dim);
            Shape(w.Key, $"layer {l} key", c.KvDim, c.Dim);
            Shape(w.Value, $"layer {l} value", c.KvDim, c.Dim);
            Shape(w.AttentionOutput, $"layer {l} attention output", c.Dim, c.QDim);
            Shape(w.Gate, $"layer {l} gate", c.HiddenDim, c.Dim);
            Shape(w.Up, $"layer {l} up", c.HiddenDim, c.Dim);
            Shape(w.Down, $"layer {l} down", c.Dim, c.HiddenDim);
        }

        void Norm(float[] gain, string what)
        {
            if (gain.Length != c.Dim) throw new ArgumentException($"{what} has {gain.Length} values, expected {c.Dim}");
        }

        static void Shape(ILinear matrix, string what, int outputDim, int inputDim)
        {
            if (matrix.OutputDim != outputDim || matrix.InputDim != inputDim)
                throw new ArgumentException($"{what} is {matrix.OutputDim}×{matrix.InputDim}, expected {outputDim}×{inputDim}");
        }
    }
}
