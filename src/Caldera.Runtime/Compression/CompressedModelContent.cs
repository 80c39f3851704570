using Caldera.Runtime.Model;

namespace Caldera.Runtime.Compression;

/// <summary>How the tokenizer travels inside a compressed model.</summary>
internal enum TokenizerPayloadKind
{
    /// <summary>A SentencePiece ModelProto (<c>tokenizer.model</c>, <c>tok512.model</c>).</summary>
    SentencePieceModel,

    /// <summary>A llama2.c <c>tokenizer.bin</c>.</summary>
    Llama2cBin,

    /// <summary>A Hugging Face <c>tokenizer.json</c> (with <see cref="TokenizerPayload.ConfigBytes"/> = its <c>tokenizer_config.json</c>, if any).</summary>
    HuggingFaceJson,

    /// <summary>A vocabulary that came embedded in a GGUF checkpoint, serialized by the format.</summary>
    EmbeddedVocabulary,
}

/// <summary>The tokenizer file(s) exactly as the source had them, so the compressed model is self-contained.</summary>
internal sealed record TokenizerPayload(TokenizerPayloadKind Kind, ReadOnlyMemory<byte> Bytes, ReadOnlyMemory<byte> ConfigBytes = default)
{
    /// <summary>A vocabulary embedded in a checkpoint (GGUF), serialized as <see cref="Tokenization.EmbeddedVocabularyJson"/>.</summary>
    public static TokenizerPayload FromVocabulary(Tokenization.EmbeddedVocabulary vocabulary) =>
        new(TokenizerPayloadKind.EmbeddedVocabulary, Tokenization.EmbeddedVocabularyJson.Serialize(vocabulary));
}

/// <summary>A tensor kept dense (embedding, norms, classifier): row-major values of <see cref="Type"/>.</summary>
internal sealed record DenseTensorData(string Name, long[] Shape, TensorType Type, ReadOnlyMemory<byte> Data);

/// <summary>How the model was compressed: what the manifest records besides the tensors.</summary>
internal sealed record CompressionSettings
{
    /// <summary>"caldera", "ldlq" (rank-0 CALDERA, QuIP#-like) or "rtn".</summary>
    public required string Method { get; init; }
    public required int Rank { get; init; }
    public required int QBits { get; init; }
    public required int FactorBits { get; init; }

    /// <summary>"paper", "fast" or "custom".</summary>
    public required string Preset { get; init; }

    public int OuterIterations { get; init; }
    public int InnerIterations { get; init; }
    public int RefinementSweeps { get; init; }
    public bool RandomizedHadamard { get; init; }
    public bool HessianDowndate { get; init; }
    public double Regularization { get; init; }
    public ulong Seed { get; init; }

    /// <summary>Where the calibration text came from (a file name and its SHA-256, or "built-in").</summary>
    public required string Calibration { get; init; }
    public int CalibrationSamples { get; init; }
    public int CalibrationSequenceLength { get; init; }
}

/// <summary>
/// Everything a <c>.cald</c> file holds, in memory: the architecture, the tokenizer, the dense tensors, the
/// compressed matrices and the settings that produced them. The compiler builds it; the format writes and
/// reads it (reading gives zero-copy views into the mapped file); the runtime binds it for inference.
/// </summary>
internal sealed record CompressedModelContent
{
    public required LlamaConfig Config { get; init; }
    public TokenizerPayload? Tokenizer { get; init; }
    public required IReadOnlyList<DenseTensorData> DenseTensors { get; init; }
    /// <summary>The compressed matrices; the compiler's list reads them from its layer cache one block at a time, so walk it in order and hold no more than a block.</summary>
    public required IReadOnlyList<CompressedLinearData> Matrices { get; init; }
    public required CompressionSettings Settings { get; init; }

    /// <summary>SHA-256 (hex) of the source checkpoint's bytes (all files of a directory, in name order).</summary>
    public required string SourceSha256 { get; init; }

    /// <summary>The Caldera version that wrote it.</summary>
    public required string ToolVersion { get; init; }
}
