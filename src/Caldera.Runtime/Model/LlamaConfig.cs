using Caldera.Runtime.Formats;

namespace Caldera.Runtime.Model;

/// <summary>
/// The architecture of a Llama-family decoder, whatever file it came from. Names follow llama2.c's
/// <c>Config</c>: <c>Dim</c> is the residual width, <c>HiddenDim</c> the SwiGLU width.
/// </summary>
internal sealed record LlamaConfig
{
    public required int Dim { get; init; }
    public required int HiddenDim { get; init; }
    public required int LayerCount { get; init; }
    public required int HeadCount { get; init; }
    public required int KvHeadCount { get; init; }
    public required int VocabSize { get; init; }

    /// <summary>Longest sequence the KV cache is sized for.</summary>
    public required int ContextLength { get; init; }

    /// <summary>Per-head width; <c>Dim / HeadCount</c> unless the checkpoint says otherwise.</summary>
    public int HeadDim { get; init; }

    public float NormEpsilon { get; init; } = 1e-5f;
    public float RopeTheta { get; init; } = 10000f;
    public RopeScaling? RopeScaling { get; init; }

    /// <summary>Per-pair frequency divisors (a Llama 3.1+ GGUF's <c>rope_freqs.weight</c>); null for none.</summary>
    public RopeFrequencyFactors? RopeFrequencyFactors { get; init; }
    public RopePairing RopePairing { get; init; } = RopePairing.Interleaved;

    /// <summary>True when the classifier reuses the token embedding (no separate output matrix).</summary>
    public bool TiedClassifier { get; init; }

    public int QDim => HeadCount * HeadDim;
    public int KvDim => KvHeadCount * HeadDim;

    /// <summary>Limits well beyond any released Llama; a value past them is a corrupt header, not a model.</summary>
    internal const int MaxDimension = 1 << 20;
    internal const int MaxLayers = 4096;
    internal const int MaxContext = 1 << 24;

    /// <summary>
    /// Checks that the sizes describe a runnable model, throwing a <see cref="ModelFormatException"/> that
    /// names <paramref name="path"/> and the setting. <paramref name="names"/> maps each property to the
    /// name the file uses for it, so the message speaks the file's language.
    /// </summary>
    public LlamaConfig Validate(string path, Func<string, string>? names = null)
    {
        names ??= static n => n;
        Positive(Dim, nameof(Dim), MaxDimension);
        Positive(HiddenDim, nameof(HiddenDim), MaxDimension);
        Positive(LayerCount, nameof(LayerCount), MaxLayers);
        Positive(HeadCount, nameof(HeadCount), MaxDimension);
        Positive(KvHeadCount, nameof(KvHeadCount), MaxDimension);
        Positive(VocabSize, nameof(VocabSize), 1 << 24);
        Positive(ContextLength, nameof(ContextLength), MaxContext);
        Positive(HeadDim, nameof(HeadDim), MaxDimension);
        if (HeadDim % 2 != 0)
            throw ModelFormatException.ForSetting(path, names(nameof(HeadDim)), $"{HeadDim} is odd; RoPE rotates pairs, so the head width must be even");
        if (RopeFrequencyFactors?.Problem(HeadDim) is { } ropeProblem)
            throw ModelFormatException.ForSetting(path, names(nameof(RopeFrequencyFactors)), ropeProblem);
        if (HeadCount % KvHeadCount != 0)
            throw ModelFormatException.ForSetting(path, names(nameof(KvHeadCount)),
                $"{KvHeadCount} KV heads do not divide {HeadCount} query heads; grouped-query attention needs a whole number of query heads per KV head");
        if (!(NormEpsilon > 0 && NormEpsilon < 1))
            throw ModelFormatException.ForSetting(path, names(nameof(NormEpsilon)), $"{NormEpsilon} is not in (0, 1)");
        if (!(RopeTheta > 0 && float.IsFinite(RopeTheta)))
            throw ModelFormatException.ForSetting(path, names(nameof(RopeTheta)), $"{RopeTheta} is not a positive number");
        if (RopeScaling is { } s && !(s.Factor > 0 && s.LowFrequencyFactor > 0 && s.HighFrequencyFactor > s.LowFrequencyFactor && s.OriginalContextLength > 0))
            throw ModelFormatException.ForSetting(path, names(nameof(RopeScaling)),
                "needs factor > 0, 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0");
        return this;

        void Positive(int value, string name, int max)
        {
            if (value <= 0 || value > max)
                throw ModelFormatException.ForSetting(path, names(name), $"{value} is out of range (expected 1..{max})");
        }
    }
}
