using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
using Microsoft.ML.Tokenizers;

namespace Caldera.Runtime.Tokenization;

/// <summary>
/// The tokenizer of a model: a Microsoft.ML.Tokenizers <see cref="Tokenizer"/> or, for the SentencePiece BPE models it
/// reads, the quicker-to-build <see cref="SentencePieceBpe"/>, plus the ids the runtime needs (BOS, the end-of-generation
/// set). Loaded from a SentencePiece <c>.model</c>, a Hugging Face byte-level BPE <c>tokenizer.json</c>, a llama2.c
/// <c>tokenizer.bin</c>, or a vocabulary embedded in the checkpoint. Formats the library cannot read are converted to
/// ones it can (a SentencePiece ModelProto, tiktoken rank lines) in memory.
/// </summary>
internal sealed class ModelTokenizer
{
    /// <summary>Far above any real tokenizer file (Llama 3's tokenizer.json is 9 MB); keeps a stray path from reading gigabytes.</summary>
    private const long MaxFileBytes = 1L << 30;

    internal ModelTokenizer(Tokenizer library, int bosId, IReadOnlyList<int> eosIds, int vocabularySize)
        : this(new LibraryTokenizer(library), bosId, eosIds, vocabularySize)
    {
    }

    internal ModelTokenizer(IInnerTokenizer inner, int bosId, IReadOnlyList<int> eosIds, int vocabularySize)
    {
        Inner = inner;
        BosId = bosId;
        EosIds = eosIds;
        VocabularySize = vocabularySize;
    }

    /// <summary>The tokenizer that does the work.</summary>
    public IInnerTokenizer Inner { get; }

    public int BosId { get; }

    /// <summary>Ids that end generation (Llama 3 has more than one: <c>&lt;|end_of_text|&gt;</c> and <c>&lt;|eot_id|&gt;</c>).</summary>
    public IReadOnlyList<int> EosIds { get; }

    /// <summary>The file (or model) the tokenizer was read from, named in errors.</summary>
    public string Source { get; private set; } = "tokenizer";

    /// <summary>One more than the largest id the tokenizer can produce.</summary>
    public int VocabularySize { get; }

    /// <summary>
    /// Throws when this tokenizer can produce ids the model has no embedding for (a tokenizer of another model):
    /// <paramref name="tokenizerSource"/> names where the tokenizer came from, <paramref name="modelPath"/> the model.
    /// A smaller vocabulary is fine: models often pad theirs.
    /// </summary>
    public void CheckFits(int modelVocabularySize, string modelPath, string tokenizerSource)
    {
        if (VocabularySize > modelVocabularySize)
            throw new ModelFormatException(tokenizerSource,
                $"the tokenizer has {VocabularySize} tokens but the model {modelPath} has a vocabulary of {modelVocabularySize}: it belongs to another model; " +
                "pass the tokenizer the model was trained with (--tokenizer <file>)");
    }

    /// <summary>
    /// Loads a tokenizer file, recognised by its content: JSON (Hugging Face <c>tokenizer.json</c>, with
    /// <c>tokenizer_config.json</c> beside it if present), a llama2.c <c>tokenizer.bin</c> (starts with a small
    /// int32), otherwise a SentencePiece <c>.model</c> protobuf.
    /// </summary>
    public static ModelTokenizer Load(string path)
    {
        if (Directory.Exists(path))
            throw new ModelFormatException(path, "is a directory; pass the tokenizer file inside it (tokenizer.model, tokenizer.json or tokenizer.bin)");
        if (!File.Exists(path)) throw new ModelFormatException(path, "tokenizer file not found");
        long length = new FileInfo(path).Length;
        if (length == 0) throw new ModelFormatException(path, "the tokenizer file is empty; pass the model's tokenizer.model, tokenizer.json or tokenizer.bin");
        if (length > MaxFileBytes)
            throw new ModelFormatException(path, $"{length} bytes is too large for a tokenizer file (limit {MaxFileBytes}); is this a model?");
        byte[] bytes = File.ReadAllBytes(path);

        if (IsJson(bytes)) return Guarded(path, "Hugging Face tokenizer.json", () => HuggingFaceTokenizerJson.Read(path, bytes));
        if (Llama2cTokenizerFile.LooksLikeLlama2c(bytes))
            return Guarded(path, "llama2.c tokenizer", () => Llama2cTokenizerFile.Read(path, bytes).ToModelTokenizer());
        return Guarded(path, "SentencePiece model", () => SentencePiece(bytes));
    }

    /// <summary>
    /// The tokenizer of a vocabulary embedded in a checkpoint: GGUF model "llama" (SentencePiece pieces and
    /// scores) or "gpt2" (byte-level BPE). <paramref name="sourcePath"/> is the checkpoint, named in errors.
    /// </summary>
    public static ModelTokenizer FromVocabulary(EmbeddedVocabulary vocabulary, string sourcePath)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        if (vocabulary.Tokens is null || vocabulary.Tokens.Length == 0)
            throw ModelFormatException.ForSetting(sourcePath, "tokenizer.ggml.tokens", "the embedded vocabulary is empty");
        return vocabulary.Model switch
        {
            "llama" => Guarded(sourcePath, "embedded SentencePiece vocabulary",
                () => SentencePieceVocabulary.FromEmbedded(vocabulary, sourcePath).ToModelTokenizer()),
            "gpt2" => Guarded(sourcePath, "embedded byte-level BPE vocabulary",
                () => ByteLevelBpeVocabulary.FromEmbedded(vocabulary, sourcePath)),
            _ => throw ModelFormatException.ForSetting(sourcePath, "tokenizer.ggml.model",
                $"'{vocabulary.Model}' is not supported (supported: llama, gpt2); pass a tokenizer file with --tokenizer"),
        };
    }

    /// <summary>
    /// The tokenizer carried inside a compressed model: the source's tokenizer file(s) as bytes, or its embedded
    /// vocabulary as JSON. <paramref name="sourcePath"/> is the model file, named in errors.
    /// </summary>
    public static ModelTokenizer FromPayload(TokenizerPayload payload, string sourcePath)
    {
        ArgumentNullException.ThrowIfNull(payload);
        byte[] bytes = payload.Bytes.ToArray();
        string path = $"{sourcePath} (embedded tokenizer)";
        return payload.Kind switch
        {
            TokenizerPayloadKind.SentencePieceModel => Guarded(path, "SentencePiece model", () => SentencePiece(bytes)),
            TokenizerPayloadKind.Llama2cBin => Guarded(path, "llama2.c tokenizer", () => Llama2cTokenizerFile.Read(path, bytes).ToModelTokenizer()),
            TokenizerPayloadKind.HuggingFaceJson => Guarded(path, "Hugging Face tokenizer.json", () => HuggingFaceTokenizerJson.Read(path, bytes,
                payload.ConfigBytes.IsEmpty ? null : payload.ConfigBytes.ToArray(), $"{sourcePath} (embedded {HuggingFaceTokenizerJson.ConfigFileName})")),
            TokenizerPayloadKind.EmbeddedVocabulary => FromVocabulary(EmbeddedVocabularyJson.Parse(bytes, path), path),
            _ => throw ModelFormatException.ForSetting(sourcePath, "tokenizer.kind", $"{(int)payload.Kind} is not a known tokenizer kind"),
        };
    }

    /// <summary>Token ids of <paramref name="text"/>, with BOS first when <paramref name="addBos"/>.</summary>
    public int[] Encode(string text, bool addBos = true)
    {
        IReadOnlyList<int> ids;
        try
        {
            ids = Inner.EncodeToIds(text);
        }
        catch (KeyNotFoundException e)
        {
            // Byte-level BPE starts each word from its single bytes; a vocabulary that lacks one fails on the first text using it.
            throw new ModelFormatException(Source, $"cannot encode the text: the vocabulary lacks a piece it needs ({e.Message}); " +
                "a byte-level BPE vocabulary must hold every single byte", e);
        }
        if (!addBos) return [.. ids];
        var result = new int[ids.Count + 1];
        result[0] = BosId;
        for (int i = 0; i < ids.Count; i++) result[i + 1] = ids[i];
        return result;
    }

    /// <summary>
    /// The text of <paramref name="ids"/>. SentencePiece tokenizers skip control tokens (BOS, EOS) and the
    /// first piece's leading space; byte-level BPE tokenizers write special tokens out as their text.
    /// </summary>
    public string Decode(IEnumerable<int> ids) => Inner.Decode(ids);

    /// <summary>A SentencePiece <c>ModelProto</c>: read by <see cref="SentencePieceBpe"/> where it can, else by the library.</summary>
    private static ModelTokenizer SentencePiece(byte[] bytes)
    {
        if (SentencePieceBpe.TryRead(bytes) is { } bpe) return new ModelTokenizer(bpe, bpe.BosId, [bpe.EosId], bpe.Count);
        var spm = LlamaTokenizer.Create(new MemoryStream(bytes), addBeginOfSentence: false, addEndOfSentence: false);
        return new ModelTokenizer(spm, spm.BeginningOfSentenceId, [spm.EndOfSentenceId], spm.Vocabulary.Count == 0 ? 0 : spm.Vocabulary.Values.Max() + 1);
    }

    private static bool IsJson(ReadOnlySpan<byte> bytes)
    {
        if (bytes.StartsWith("\uFEFF"u8)) bytes = bytes[3..];
        int first = bytes.IndexOfAnyExcept(" \t\r\n"u8);
        return first >= 0 && bytes[first] == (byte)'{';
    }

    /// <summary>Runs a reader; whatever the library throws on a malformed file becomes the runtime's error naming it.</summary>
    private static ModelTokenizer Guarded(string path, string kind, Func<ModelTokenizer> read)
    {
        try
        {
            var tokenizer = read();
            tokenizer.Source = path;
            return tokenizer;
        }
        catch (Exception e) when (e is not ModelFormatException and not OutOfMemoryException)
        {
            throw new ModelFormatException(path, $"not a readable {kind} ({e.GetType().Name}: {e.Message})", e);
        }
    }
}
