using Caldera.Runtime.Formats;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Tokenization;

namespace Caldera.Runtime.Model;

/// <summary>
/// Any model the runtime runs, opened by content: a <c>.cald</c> compressed model (recognised by its magic) or a
/// full-precision checkpoint (<see cref="ModelCheckpoint.Open"/>). Gives the architecture, a binder for the
/// <see cref="Transformer"/> and the tokenizer the file carries, if any.
/// </summary>
internal sealed class LoadedModel : IDisposable
{
    private readonly CompressedModelWeights? _compressedWeights;

    private LoadedModel(ModelCheckpoint? checkpoint, CaldFile? compressed)
    {
        Checkpoint = checkpoint;
        Compressed = compressed;
        if (compressed != null) _compressedWeights = new CompressedModelWeights(compressed.Content, compressed.Path, alreadyChecked: true);
    }

    /// <summary>The full-precision checkpoint, when the model is one.</summary>
    public ModelCheckpoint? Checkpoint { get; }

    /// <summary>The compressed model file, when the model is one.</summary>
    public CaldFile? Compressed { get; }

    public string SourcePath => Checkpoint?.SourcePath ?? Compressed!.Path;
    public string Format => Checkpoint?.Format ?? $"cald v{Compressed!.Version}";
    public LlamaConfig Config => Checkpoint?.Config ?? Compressed!.Content.Config;

    public static LoadedModel Open(string path)
    {
        if (File.Exists(path) && CaldFile.HasMagic(path)) return new LoadedModel(null, CaldFile.Open(path));
        return new LoadedModel(ModelCheckpoint.Open(path), null);
    }

    /// <summary>Binds the weights for a <see cref="Transformer"/> as <paramref name="binding"/> chooses.</summary>
    public TransformerWeights Bind(LinearBinding binding) =>
        _compressedWeights?.Bind(binding) ?? TransformerWeights.Dense(Checkpoint!, binding);

    public Transformer CreateTransformer(TransformerOptions? options = null) => new(Config, Bind, options);

    /// <summary>The tokenizer stored in a <c>.cald</c> file, or null (checkpoints: see <see cref="ModelCheckpoint.Vocabulary"/>).</summary>
    public ModelTokenizer? EmbeddedTokenizer()
    {
        if (Compressed?.Content.Tokenizer is not { } payload) return null;
        var tokenizer = ModelTokenizer.FromPayload(payload, Compressed.Path);
        tokenizer.CheckFits(Config.VocabSize, Compressed.Path, $"{Compressed.Path} (embedded tokenizer)");
        return tokenizer;
    }

    public void Dispose()
    {
        _compressedWeights?.Dispose();
        Compressed?.Dispose();
        Checkpoint?.Dispose();
    }
}
