using System.Text;
using Caldera.Runtime.Formats;
using Microsoft.ML.Tokenizers;

namespace Caldera.Runtime.Tokenization;

/// <summary>
/// A byte-level BPE vocabulary (GPT-2 / Llama 3 style): regular tokens as byte strings, special tokens
/// matched verbatim in the text, and the pre-tokenizer split pattern. Built from a Hugging Face
/// <c>tokenizer.json</c> or a GGUF "gpt2" vocabulary and run by the library's <see cref="TiktokenTokenizer"/>.
/// </summary>
/// <remarks>
/// tiktoken's BPE merges, inside each pre-tokenized word, the adjacent pair whose concatenation has the
/// lowest rank, and a token's rank is its id. Llama 3 was trained that way (Meta ships it as a tiktoken
/// file), and GPT-2-style vocabularies number their tokens in merge order, so the ids alone define the
/// merges and the explicit merge list is not needed.
/// </remarks>
internal sealed class ByteLevelBpeVocabulary
{
    /// <summary>Tokens that end generation in the Llama 3 family besides the declared EOS.</summary>
    private static readonly string[] EndOfTurnTokens = ["<|end_of_text|>", "<|eot_id|>"];

    private ByteLevelBpeVocabulary(List<(byte[] Bytes, int Id)> ranks, Dictionary<string, int> special, string pattern)
    {
        Ranks = ranks;
        SpecialTokens = special;
        Pattern = pattern;
    }

    public List<(byte[] Bytes, int Id)> Ranks { get; }
    public Dictionary<string, int> SpecialTokens { get; }
    public string Pattern { get; }

    /// <summary>
    /// Sorts <paramref name="tokens"/> (text, id, special) into ranks and special tokens; a regular token
    /// outside the byte-level alphabet means the vocabulary is not byte-level.
    /// </summary>
    public static ByteLevelBpeVocabulary Create(string path, string setting, IEnumerable<(string Text, int Id, bool Special)> tokens, string pattern)
    {
        var ranks = new List<(byte[], int)>();
        var special = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (text, id, isSpecial) in tokens)
        {
            if (string.IsNullOrEmpty(text)) throw ModelFormatException.ForSetting(path, setting, $"token {id} is empty");
            if (id < 0) throw ModelFormatException.ForSetting(path, setting, $"token '{text}' has negative id {id}");
            if (isSpecial)
            {
                if (!special.TryAdd(text, id))
                    throw ModelFormatException.ForSetting(path, setting, $"special token '{text}' appears twice");
            }
            else if (ByteLevelAlphabet.TryGetBytes(text, out var bytes))
                ranks.Add((bytes, id));
            else
                throw ModelFormatException.ForSetting(path, setting,
                    $"token {id} ('{text}') is not written in the byte-level alphabet; only byte-level BPE vocabularies are supported");
        }
        if (ranks.Count == 0) throw ModelFormatException.ForSetting(path, setting, "the vocabulary has no regular tokens");
        return new ByteLevelBpeVocabulary(ranks, special, pattern);
    }

    /// <summary>A GGUF "gpt2" vocabulary; control and user-defined tokens are the special tokens.</summary>
    public static ModelTokenizer FromEmbedded(EmbeddedVocabulary v, string path)
    {
        string pattern = PreTokenizerPatterns.ForGgufPreTokenizer(v.PreTokenizer) ?? throw ModelFormatException.ForSetting(path,
            "tokenizer.ggml.pre", $"pre-tokenizer '{v.PreTokenizer ?? "(absent)"}' is not supported (supported: {PreTokenizerPatterns.SupportedGgufNames})");
        int n = v.Tokens.Length;
        if (v.TokenTypes is not null && v.TokenTypes.Length != n)
            throw ModelFormatException.ForSetting(path, "tokenizer.ggml.token_type", $"{v.TokenTypes.Length} types for {n} tokens");
        if ((uint)v.BosId >= (uint)n)
            throw ModelFormatException.ForSetting(path, "tokenizer.ggml.bos_token_id", $"id {v.BosId} is outside the {n}-token vocabulary");
        if ((uint)v.EosId >= (uint)n)
            throw ModelFormatException.ForSetting(path, "tokenizer.ggml.eos_token_id", $"id {v.EosId} is outside the {n}-token vocabulary");

        bool IsSpecial(int id) => id == v.BosId || id == v.EosId ||
            v.TokenTypes?[id] is (int)SentencePieceType.Control or (int)SentencePieceType.UserDefined;
        var vocabulary = Create(path, "tokenizer.ggml.tokens", v.Tokens.Select((t, id) => (t, id, IsSpecial(id))), pattern);
        return vocabulary.ToModelTokenizer(v.BosId, vocabulary.EndOfGenerationIds(v.EosId));
    }

    /// <summary><paramref name="eosId"/> first, then the Llama 3 end-of-turn tokens this vocabulary has.</summary>
    public int[] EndOfGenerationIds(int eosId)
    {
        var ids = new List<int> { eosId };
        foreach (string token in EndOfTurnTokens)
            if (SpecialTokens.TryGetValue(token, out int id) && !ids.Contains(id)) ids.Add(id);
        return [.. ids];
    }

    public ModelTokenizer ToModelTokenizer(int bosId, int[] eosIds)
    {
        // The library reads tiktoken's text format: one "base64(token bytes) rank" line per token.
        var lines = new StringBuilder(Ranks.Count * 16);
        foreach (var (bytes, id) in Ranks)
            lines.Append(Convert.ToBase64String(bytes)).Append(' ').Append(id).Append('\n');
        var preTokenizer = new RegexPreTokenizer(PreTokenizerPatterns.ToRegex(Pattern), SpecialTokens);
        var tiktoken = TiktokenTokenizer.Create(new MemoryStream(Encoding.UTF8.GetBytes(lines.ToString())), preTokenizer,
            normalizer: null, SpecialTokens);
        int size = Math.Max(Ranks.Max(r => r.Id), SpecialTokens.Count == 0 ? 0 : SpecialTokens.Values.Max()) + 1;
        return new ModelTokenizer(tiktoken, bosId, eosIds, size);
    }
}
