namespace Caldera.Runtime.Tokenization;

/// <summary>
/// Turns generated token ids into text as they arrive. A token may carry part of a UTF-8 character
/// (byte-fallback pieces) and SentencePiece decoding depends on the previous piece (the dummy-prefix
/// space), so each call decodes the ids so far and returns only the text that is new and complete.
/// </summary>
public sealed class TokenTextStream(ModelTokenizer tokenizer)
{
    private readonly List<int> _ids = [];
    private int _emitted;

    /// <summary>Adds <paramref name="id"/> and returns the text it completes (possibly empty).</summary>
    public string Push(int id)
    {
        _ids.Add(id);
        string text = tokenizer.Decode(_ids);
        // A trailing U+FFFD is an incomplete UTF-8 sequence that the next byte piece will finish.
        int end = text.Length;
        while (end > _emitted && text[end - 1] == '\uFFFD') end--;
        if (end <= _emitted) return string.Empty;
        string piece = text[_emitted..end];
        _emitted = end;
        return piece;
    }

    /// <summary>Whatever is still held back at the end of generation.</summary>
    public string Flush()
    {
        string text = tokenizer.Decode(_ids);
        string rest = text.Length > _emitted ? text[_emitted..] : string.Empty;
        _emitted = text.Length;
        return rest;
    }
}
