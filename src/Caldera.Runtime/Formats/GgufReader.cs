using Caldera.Runtime.Model;

namespace Caldera.Runtime.Formats;

/// <summary>
/// Reads a GGUF (v1–v3) Llama checkpoint: the <c>llama.*</c> metadata becomes the <see cref="LlamaConfig"/>,
/// F32/F16/BF16 tensors become zero-copy <see cref="TensorView"/>s, <c>tokenizer.ggml.*</c> becomes the
/// <see cref="Tokenization.EmbeddedVocabulary"/>. GGUF's tensor names are already the canonical ones.
/// llama.cpp's converters store Q/K rows in Meta's interleaved order, so RoPE pairs are (2i, 2i+1).
/// </summary>
internal static unsafe class GgufReader
{
    private const string Architecture = "llama";

    /// <summary>The GGUF key for each config property, used in error messages.</summary>
    private static readonly Dictionary<string, string> KeyNames = new()
    {
        [nameof(LlamaConfig.Dim)] = "llama.embedding_length",
        [nameof(LlamaConfig.HiddenDim)] = "llama.feed_forward_length",
        [nameof(LlamaConfig.LayerCount)] = "llama.block_count",
        [nameof(LlamaConfig.HeadCount)] = "llama.attention.head_count",
        [nameof(LlamaConfig.KvHeadCount)] = "llama.attention.head_count_kv",
        [nameof(LlamaConfig.VocabSize)] = $"{TensorNames.TokenEmbedding} rows",
        [nameof(LlamaConfig.ContextLength)] = "llama.context_length",
        [nameof(LlamaConfig.HeadDim)] = "llama.attention.key_length",
        [nameof(LlamaConfig.NormEpsilon)] = "llama.attention.layer_norm_rms_epsilon",
        [nameof(LlamaConfig.RopeTheta)] = "llama.rope.freq_base",
        [nameof(LlamaConfig.RopeFrequencyFactors)] = RopeFrequencyFactorsTensor,
    };

    public static ModelCheckpoint Read(string path) => MappedFile.Read(path, Read);

    private static ModelCheckpoint Read(MappedFile file)
    {
        string path = file.Path;
        var gguf = GgufFile.Read(file);
        var m = gguf.Metadata;

        string architecture = m.RequireString("general.architecture");
        if (architecture != Architecture)
            throw ModelFormatException.ForSetting(path, "general.architecture",
                $"'{architecture}' is not supported; Caldera runs 'llama' models only (Llama 1/2/3, TinyLlama, …)");

        var tensors = ReadTensors(file, gguf);
        var config = ReadConfig(path, m, tensors);
        var expected = TensorNames.Expected(config).Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        if (tensors.Find(t => !expected.Contains(t.Name)) is { } extra)
            throw ModelFormatException.ForTensor(path, extra.Name,
                $"is not part of a {config.LayerCount}-layer Llama model (another architecture, or weights such as biases that Llama does not have)");
        var vocabulary = GgufVocabulary.Read(path, m, config.VocabSize);
        return new ModelCheckpoint(path, $"gguf v{gguf.Version}", config, tensors, [file], vocabulary).Validate();
    }

    private static LlamaConfig ReadConfig(string path, GgufMetadata m, List<TensorView> tensors)
    {
        if (m.Integer("llama.expert_count") is > 0)
            throw ModelFormatException.ForSetting(path, "llama.expert_count", "is a mixture-of-experts model, which Caldera does not run");
        if (m.String("llama.rope.scaling.type") is { } scaling and not "none")
            throw ModelFormatException.ForSetting(path, "llama.rope.scaling.type", $"RoPE scaling '{scaling}' is not supported");
        var ropeFactors = ReadRopeFrequencyFactors(path, tensors);

        var embedding = tensors.Find(t => t.Name == TensorNames.TokenEmbedding)
            ?? throw ModelFormatException.ForTensor(path, TensorNames.TokenEmbedding, "is missing, so the vocabulary size is unknown");
        if (embedding.Shape.Length != 2 || embedding.Shape[0] > int.MaxValue)
            throw ModelFormatException.ForTensor(path, TensorNames.TokenEmbedding, $"has shape [{string.Join(", ", embedding.Shape)}], expected [vocab, dim]");

        int dim = m.RequireInt32("llama.embedding_length");
        int heads = m.RequireInt32("llama.attention.head_count");
        if (heads > 0 && dim > 0 && dim % heads != 0 && !m.Contains("llama.attention.key_length"))
            throw ModelFormatException.ForSetting(path, "llama.attention.head_count", $"{heads} heads do not divide llama.embedding_length {dim}");
        int headDim = m.Int32("llama.attention.key_length") ?? (heads > 0 ? dim / heads : 0);
        if (m.Int32("llama.attention.value_length") is { } valueLength && valueLength != headDim)
            throw ModelFormatException.ForSetting(path, "llama.attention.value_length", $"{valueLength} differs from the key length {headDim}; Llama uses one head width");
        if (ropeFactors?.Problem(headDim) is { } ropeProblem)
            throw ModelFormatException.ForTensor(path, RopeFrequencyFactorsTensor, ropeProblem);
        if (m.Int32("llama.rope.dimension_count") is { } ropeDim && ropeDim != headDim)
            throw ModelFormatException.ForSetting(path, "llama.rope.dimension_count",
                $"{ropeDim} differs from the head width {headDim}; partial RoPE is not a Llama feature");

        return new LlamaConfig
        {
            Dim = dim,
            HiddenDim = m.RequireInt32("llama.feed_forward_length"),
            LayerCount = m.RequireInt32("llama.block_count"),
            HeadCount = heads,
            KvHeadCount = m.Int32("llama.attention.head_count_kv") ?? heads,
            VocabSize = (int)embedding.Shape[0],
            ContextLength = m.RequireInt32("llama.context_length"),
            HeadDim = headDim,
            NormEpsilon = (float)(m.Real("llama.attention.layer_norm_rms_epsilon") ?? throw m.Missing("llama.attention.layer_norm_rms_epsilon")),
            RopeTheta = (float)(m.Real("llama.rope.freq_base") ?? 10000.0),
            RopePairing = RopePairing.Interleaved,
            RopeFrequencyFactors = ropeFactors,
            TiedClassifier = !tensors.Exists(t => t.Name == TensorNames.Output),
        }.Validate(path, n => KeyNames.GetValueOrDefault(n, n));
    }

    /// <summary>
    /// Llama 3.1+ GGUFs carry their RoPE scaling as <c>rope_freqs.weight</c>, one F32 divisor per rotated pair. It is
    /// read into the config and taken out of the tensor list, since it is a setting rather than a weight.
    /// </summary>
    private static unsafe RopeFrequencyFactors? ReadRopeFrequencyFactors(string path, List<TensorView> tensors)
    {
        int index = tensors.FindIndex(t => t.Name == RopeFrequencyFactorsTensor);
        if (index < 0) return null;
        var tensor = tensors[index];
        if (tensor.Type != TensorType.F32 || tensor.Shape.Length != 1 || tensor.Shape[0] > LlamaConfig.MaxDimension)
            throw ModelFormatException.ForTensor(path, RopeFrequencyFactorsTensor,
                $"is {tensor.Type} [{string.Join(", ", tensor.Shape)}]; expected F32 [head width / 2] as llama.cpp writes it");
        tensors.RemoveAt(index);
        return new RopeFrequencyFactors(new ReadOnlySpan<float>(tensor.Data, (int)tensor.Shape[0]));
    }

    private const string RopeFrequencyFactorsTensor = "rope_freqs.weight";

    /// <summary>
    /// Views every tensor in place after checking its type, that it lies inside the data section at an
    /// aligned offset, and that no two tensors overlap.
    /// </summary>
    private static List<TensorView> ReadTensors(MappedFile file, GgufFile gguf)
    {
        string path = file.Path;
        long dataBytes = file.Length - gguf.DataOffset;
        var extents = new List<TensorExtent>(gguf.Tensors.Count);
        var tensors = new List<TensorView>(gguf.Tensors.Count);
        foreach (var info in gguf.Tensors)
        {
            if (!GgmlType.TryGetTensorType(info.GgmlType, out var type))
                throw ModelFormatException.ForTensor(path, info.Name,
                    $"ggml type {GgmlType.Describe(info.GgmlType)} is not supported; Caldera reads F32, F16 and BF16 tensors, so export an F16 or F32 GGUF (llama.cpp convert_hf_to_gguf.py --outtype f16)");
            long bytes = TensorExtent.ByteSize(path, info.Name, info.Shape, type.ElementSize(), Math.Max(dataBytes, 0));
            if (info.Offset % (ulong)gguf.Alignment != 0)
                throw ModelFormatException.ForTensor(path, info.Name, $"data offset {info.Offset} is not a multiple of the alignment {gguf.Alignment} (corrupt file)");
            if (dataBytes < 0 || info.Offset > (ulong)dataBytes || bytes > dataBytes - (long)info.Offset)
                throw ModelFormatException.ForTensor(path, info.Name,
                    $"data at offset {info.Offset} (+{bytes} bytes) runs past the end of the {Math.Max(dataBytes, 0)}-byte data section (truncated or corrupt file)");
            long begin = gguf.DataOffset + (long)info.Offset;
            extents.Add(new TensorExtent(info.Name, begin, begin + bytes));
            tensors.Add(new TensorView(info.Name, info.Shape, type, file.At(begin, bytes, $"tensor '{info.Name}'")));
        }
        TensorExtent.CheckDisjoint(path, extents);
        return tensors;
    }
}
