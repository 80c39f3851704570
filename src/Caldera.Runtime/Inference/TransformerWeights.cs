using Caldera.Runtime.Model;

namespace Caldera.Runtime.Inference;

/// <summary>
/// The weights bound for the forward pass (llama2.c's <c>TransformerWeights</c>): the token embedding
/// stays a <see cref="TensorView"/> (one row is read per token), every matrix is an
/// <see cref="ILinear"/>, and the classifier is the embedding itself when the model ties them.
/// </summary>
internal sealed class TransformerWeights
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

    /// <summary>Binds every matrix of <paramref name="checkpoint"/> densely as <paramref name="binding"/> chooses (the classifier in its precision).</summary>
    public static TransformerWeights Dense(ModelCheckpoint checkpoint, LinearBinding binding) =>
        Create(checkpoint.Config, checkpoint.Tensor,
            name => binding.Dense(checkpoint.Tensor(name)), name => binding.DenseClassifier(checkpoint.Tensor(name)));

    /// <summary>
    /// Binds the model's tensors by canonical name (<see cref="TensorNames"/>): <paramref name="tensor"/> gives the
    /// embedding and the norm gains, <paramref name="linear"/> every block's matrices and <paramref name="classifier"/>
    /// the classifier (asked for as the embedding's name when the model ties them).
    /// </summary>
    public static TransformerWeights Create(LlamaConfig config, Func<string, TensorView> tensor, Func<string, ILinear> linear,
        Func<string, ILinear> classifier)
    {
        var layers = new LayerWeights[config.LayerCount];
        for (int l = 0; l < layers.Length; l++) layers[l] = LayerWeights.Create(l, tensor, linear);
        var output = classifier(config.TiedClassifier ? TensorNames.TokenEmbedding : TensorNames.Output);
        return new TransformerWeights(config, tensor(TensorNames.TokenEmbedding), layers,
            tensor(TensorNames.OutputNorm).ToArray(), output);
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
