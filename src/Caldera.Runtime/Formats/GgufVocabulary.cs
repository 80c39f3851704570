using Caldera.Runtime.Tokenization;

namespace Caldera.Runtime.Formats;

/// <summary>
/// Builds an <see cref="EmbeddedVocabulary"/> from GGUF's <c>tokenizer.ggml.*</c> keys. Every per-token array
/// must have one entry per token and every special id must name a token, so the tokenizer built from it
/// can never index past the embedding.
/// </summary>
internal static class GgufVocabulary
{
    private const string Prefix = "tokenizer.ggml.";

    /// <summary>The vocabulary, or null when the file carries no <c>tokenizer.ggml.tokens</c>.</summary>
    public static EmbeddedVocabulary? Read(string path, GgufMetadata m, int vocabSize)
    {
        var tokens = m.Strings(Prefix + "tokens");
        if (tokens is null) return null;
        string model = m.String(Prefix + "model") ?? throw m.Missing(Prefix + "model");
        if (tokens.Length > vocabSize)
            throw ModelFormatException.ForSetting(path, Prefix + "tokens",
                $"has {tokens.Length} tokens but token_embd.weight has only {vocabSize} rows; the tokenizer does not belong to this model");

        var scores = m.Floats(Prefix + "scores");
        var types = m.Int32s(Prefix + "token_type");
        SameLength(Prefix + "scores", scores?.Length);
        SameLength(Prefix + "token_type", types?.Length);
        // A NaN or infinite score would rank merges arbitrarily, and cannot be carried in a .cald manifest's JSON.
        if (scores is not null && Array.FindIndex(scores, s => !float.IsFinite(s)) is var bad and >= 0)
            throw ModelFormatException.ForSetting(path, Prefix + "scores", $"entry {bad} is {scores[bad]}; scores must be finite numbers");

        // llama.cpp's SentencePiece defaults; a byte-level BPE vocabulary has no conventional ids.
        bool sentencePiece = model == "llama";
        int bos = Id("bos_token_id", sentencePiece ? 1 : null)!.Value;
        int eos = Id("eos_token_id", sentencePiece ? 2 : null)!.Value;
        int? unknown = Id("unknown_token_id", sentencePiece ? 0 : null, required: false);
        return new EmbeddedVocabulary(model, tokens, scores, types, m.Strings(Prefix + "merges"), bos, eos, unknown, m.String(Prefix + "pre"));

        void SameLength(string key, int? length)
        {
            if (length is { } n && n != tokens.Length)
                throw ModelFormatException.ForSetting(path, key, $"has {n} entries but tokenizer.ggml.tokens has {tokens.Length}");
        }

        int? Id(string name, int? fallback, bool required = true)
        {
            string key = Prefix + name;
            int? id = m.Int32(key) ?? fallback;
            if (id is null && required)
                throw ModelFormatException.ForSetting(path, key, $"is missing and a '{model}' vocabulary has no default");
            if (id is { } i && (i < 0 || i >= tokens.Length))
                throw ModelFormatException.ForSetting(path, key, $"{i} is not a token id (the vocabulary has {tokens.Length} tokens)");
            return id;
        }
    }
}
