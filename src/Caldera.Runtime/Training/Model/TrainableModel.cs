using Caldera.Runtime.Compression;
using Caldera.Runtime.Model;
using Caldera.Runtime.Training.Arithmetic;

namespace Caldera.Runtime.Training.Model;

/// <summary>
/// A compressed model prepared for fine-tuning: every compressed block matrix with its top r ranks peeled into float
/// copies (<see cref="TrainableLinear.Peel"/>), and optionally every RMSNorm gain (<see cref="NormGain"/>); everything
/// else frozen. The embedding, the norm gains and the classifier are widened to float once (the classifier is the
/// embedding when the model ties them).
/// </summary>
internal sealed class TrainableModel
{
    private TrainableModel(LlamaConfig config, float[] embedding, float[] classifier, NormGain outputNorm, TrainableLayer[] layers)
    {
        Config = config;
        Embedding = embedding;
        Classifier = classifier;
        OutputNorm = outputNorm;
        Layers = layers;
    }

    public LlamaConfig Config { get; }

    /// <summary>vocab × dim.</summary>
    public float[] Embedding { get; }

    /// <summary>vocab × dim (the same array as <see cref="Embedding"/> when tied).</summary>
    public float[] Classifier { get; }

    public NormGain OutputNorm { get; }
    public IReadOnlyList<TrainableLayer> Layers { get; }

    /// <summary>Every RMSNorm gain: per layer the attention then the FFN norm, then the final norm.</summary>
    public IReadOnlyList<NormGain> Gains => [.. Layers.SelectMany(l => new[] { l.AttentionNorm, l.FfnNorm }), OutputNorm];

    /// <summary>The gains that train, in <see cref="Gains"/> order (none unless the model was peeled with trainNorms).</summary>
    public IReadOnlyList<NormGain> TrainedGains => Gains.Where(g => g.Trains).ToArray();

    /// <summary>Every block matrix, in layer order and q, k, v, o, gate, up, down within a layer.</summary>
    public IEnumerable<TrainableLinear> Linears => Layers.SelectMany(l => l.Linears);

    /// <summary>The matrices that train (a nonzero <see cref="TrainableLinear.TrainedRank"/>), in <see cref="Linears"/> order.</summary>
    public IReadOnlyList<TrainableLinear> Trained => Linears.Where(l => l.TrainedRank > 0).ToArray();

    /// <summary>
    /// Peels the top <paramref name="rank"/> ranks of every compressed matrix of <paramref name="content"/>; with
    /// <paramref name="nearest"/>, for quantisation-aware training (<see cref="TrainableLinear.Peel"/>); with
    /// <paramref name="trainNorms"/>, every RMSNorm gain trains too.
    /// </summary>
    public static TrainableModel Peel(CompressedModelContent content, int rank, E8PNearestRow? nearest = null, bool trainNorms = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rank);
        var c = content.Config;
        var matrices = content.Matrices.ToDictionary(m => m.Name, StringComparer.Ordinal);
        var dense = content.DenseTensors.ToDictionary(d => d.Name, StringComparer.Ordinal);

        float[] Dense(string name) => dense.TryGetValue(name, out var d)
            ? ToFloats(d)
            : throw new NotSupportedException($"tensor {name} is compressed or missing; fine-tuning needs it dense");
        TrainableLinear Linear(string name) => matrices.TryGetValue(name, out var m)
            ? TrainableLinear.Peel(m, rank, nearest)
            : TrainableLinear.Dense(name, Dense(name), (int)dense[name].Shape[0], (int)dense[name].Shape[1]);

        return Assemble(c, Dense, Linear, c.TiedClassifier, trainNorms);
    }

    /// <summary>
    /// A full-precision checkpoint with trainable factors of rank <paramref name="rank"/> beside every block matrix
    /// (<see cref="TrainableLinear.DenseWithFactors"/>), initialised by <paramref name="initial"/>(name, rows, columns) → (L_tᵀ, R_t).
    /// </summary>
    public static TrainableModel WithFactors(ModelCheckpoint checkpoint, int rank, Func<string, int, int, (float[] LTransposed, float[] R)> initial)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rank);
        var c = checkpoint.Config;
        float[] Dense(string name) => checkpoint.Tensor(name).ToArray();
        TrainableLinear Linear(string name)
        {
            var t = checkpoint.Tensor(name);
            var (lt, r) = initial(name, t.Rows, t.Columns);
            return TrainableLinear.DenseWithFactors(name, t.ToArray(), t.Rows, t.Columns, lt, r, rank);
        }
        return Assemble(c, Dense, Linear, c.TiedClassifier, trainNorms: false);
    }

    /// <summary>
    /// A full-precision checkpoint with every matrix dense and frozen: nothing trains, and a backward pass leaves each
    /// matrix's <see cref="TrainableLinear.OutputGradientSquares"/>. The block matrices are read in place from the
    /// checkpoint (<see cref="TensorRows"/>), which must outlive the model; the embedding, the classifier and the norms are
    /// widened to fp32.
    /// </summary>
    public static TrainableModel Dense(ModelCheckpoint checkpoint)
    {
        var c = checkpoint.Config;
        float[] Dense(string name) => checkpoint.Tensor(name).ToArray();
        TrainableLinear Linear(string name) => TrainableLinear.Dense(name, TensorRows.Of(checkpoint.Tensor(name)));
        return Assemble(c, Dense, Linear, c.TiedClassifier || !checkpoint.Tensors.ContainsKey(TensorNames.Output), trainNorms: false);
    }

    /// <summary>
    /// The model from its tensors by name: per layer the two norms (<paramref name="dense"/>) and seven matrices
    /// (<paramref name="linear"/>), then the embedding, the classifier (the embedding itself when tied) and the final norm;
    /// the norms train when <paramref name="trainNorms"/>.
    /// </summary>
    private static TrainableModel Assemble(LlamaConfig c, Func<string, float[]> dense, Func<string, TrainableLinear> linear, bool tiedClassifier, bool trainNorms)
    {
        NormGain Gain(string name) => new(name, dense(name), trainNorms);
        var layers = new TrainableLayer[c.LayerCount];
        for (int l = 0; l < layers.Length; l++)
            layers[l] = new TrainableLayer(Gain(TensorNames.AttentionNorm(l)),
                linear(TensorNames.Query(l)), linear(TensorNames.Key(l)), linear(TensorNames.Value(l)), linear(TensorNames.AttentionOutput(l)),
                Gain(TensorNames.FfnNorm(l)), linear(TensorNames.Gate(l)), linear(TensorNames.Up(l)), linear(TensorNames.Down(l)));
        var embedding = dense(TensorNames.TokenEmbedding);
        var classifier = tiedClassifier ? embedding : dense(TensorNames.Output);
        return new TrainableModel(c, embedding, classifier, Gain(TensorNames.OutputNorm), layers);
    }

    /// <summary>
    /// A dense tensor widened to float: element by element, or row by row for the block types (the int6 and int4
    /// vocabulary matrices <c>caldera compress</c> stores by default), decoded as inference reads them.
    /// </summary>
    private static unsafe float[] ToFloats(DenseTensorData d)
    {
        long bytes = d.Type.ByteLength(d.Shape);
        if (d.Data.Length != bytes)
            throw new InvalidDataException($"tensor {d.Name} holds {d.Data.Length} bytes where {d.Type} [{string.Join(", ", d.Shape)}] takes {bytes}");
        using var pin = d.Data.Pin();
        return new TensorView(d.Name, d.Shape, d.Type, (byte*)pin.Pointer).ToArray();
    }

    /// <summary>Rounds every trained matrix's ranks again (quantisation-aware training; nothing otherwise).</summary>
    public void RoundTrained()
    {
        foreach (var linear in Trained) linear.RoundTrained();
    }

    /// <summary>Zeroes every trained matrix's and gain's accumulated gradients.</summary>
    public void ClearGradients()
    {
        foreach (var linear in Trained) linear.ClearGradients();
        foreach (var gain in TrainedGains) gain.ClearGradient();
    }
}
