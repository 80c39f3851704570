using Caldera.Runtime.Compression;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tokenization;

namespace Caldera.Compiler.Evaluation;

/// <summary>
/// A model ready for <see cref="QualityEvaluator"/>: how to bind it as a <see cref="Transformer"/>, its tokenizer
/// (when it carries or was given one) and its storage bits. It owns what it was opened from.
/// </summary>
internal sealed class EvaluatedModel(string path, LlamaConfig config, Func<TransformerOptions, Transformer> open,
    ModelTokenizer? tokenizer, BitsPerWeight bits, IDisposable? owner = null) : IDisposable
{
    public string Path { get; } = path;
    public LlamaConfig Config { get; } = config;
    public Func<TransformerOptions, Transformer> Open { get; } = open;
    public ModelTokenizer? Tokenizer { get; } = tokenizer;
    public BitsPerWeight Bits { get; } = bits;

    /// <summary>A dense checkpoint, its matrices read in place at their stored precision.</summary>
    public static EvaluatedModel FromCheckpoint(ModelCheckpoint checkpoint, ModelTokenizer? tokenizer) =>
        new(checkpoint.SourcePath, checkpoint.Config, options => new Transformer(checkpoint, options), tokenizer, BitsPerWeight.Of(checkpoint), checkpoint);

    public void Dispose() => owner?.Dispose();
}
