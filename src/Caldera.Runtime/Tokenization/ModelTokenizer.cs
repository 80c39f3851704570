using Caldera.Runtime.Formats;
using Microsoft.ML.Tokenizers;

namespace Caldera.Runtime.Tokenization;

/// <summary>
/// The tokenizer of a model: a Microsoft.ML.Tokenizers <see cref="Tokenizer"/> plus the ids the runtime
/// needs (BOS, the end-of-sequence set). Loaded from a SentencePiece <c>.model</c>, a Hugging Face
/// <c>tokenizer.json</c>, or a vocabulary embedded in the checkpoint.
/// </summary>
public sealed class ModelTokenizer
{
    private ModelTokenizer(Tokenizer inner, int bosId, IReadOnlyList<int> eosIds)
    {
        Inner = inner;
        BosId = bosId;
        EosIds = eosIds;
    }

    /// <summary>The library tokenizer that does the work.</summary>
    public Tokenizer Inner { get; }

    public int BosId { get; }

    /// <summary>Ids that end generation (Llama 3 instruct models have more than one).</summary>
    public IReadOnlyList<int> EosIds { get; }

    public static ModelTokenizer Load(string path)
    {
        if (!File.Exists(path)) throw new ModelFormatException(path, "tokenizer file not found");
        try
        {
            using var stream = File.OpenRead(path);
            var spm = LlamaTokenizer.Create(stream, addBeginOfSentence: false, addEndOfSentence: false);
            return new ModelTokenizer(spm, spm.BeginningOfSentenceId, [spm.EndOfSentenceId]);
        }
        catch (Exception e) when (e is not ModelFormatException)
        {
            throw new ModelFormatException(path, $"not a readable SentencePiece model ({e.Message})", e);
        }
    }

    /// <summary>Token ids of <paramref name="text"/>, with BOS first when <paramref name="addBos"/>.</summary>
    public int[] Encode(string text, bool addBos = true)
    {
        var ids = Inner.EncodeToIds(text);
        if (!addBos) return [.. ids];
        var result = new int[ids.Count + 1];
        result[0] = BosId;
        for (int i = 0; i < ids.Count; i++) result[i + 1] = ids[i];
        return result;
    }

    public string Decode(IEnumerable<int> ids) => Inner.Decode(ids) ?? string.Empty;
}
