namespace Caldera.Runtime.Tokenization;

/// <summary>
/// Turns generated token ids into text as they arrive, so that the concatenated output equals
/// <see cref="ModelTokenizer.Decode"/> of the whole sequence, in O(1) amortized work per token.
/// </summary>
/// <remarks>
/// Decoding is not token-by-token: a byte-fallback or byte-level token may carry part of a UTF-8
/// character, and SentencePiece drops the leading "▁" of the first piece it decodes (the library also
/// drops it from the first word piece after leading byte pieces). So once text has been emitted, each step
/// decodes a short window, fixed context tokens (the word "the") followed by the tokens not yet emitted, and emits
/// what follows the context's own text: the pending tokens decode as they do mid-sequence. While the
/// window ends inside a UTF-8 character (the decoder shows U+FFFD) nothing is emitted and the window grows
/// until the character completes, which takes at most 4 byte tokens.
/// </remarks>
internal sealed class TokenTextStream
{
    /// <summary>
    /// Pending tokens after which text is emitted even if it still ends in U+FFFD: a UTF-8 character spans
    /// at most 4 bytes, so a longer run is invalid bytes that no later token can complete.
    /// </summary>
    private const int MaxPendingTokens = 8;

    /// <summary>
    /// Any short word works as context; a single character does not (Microsoft.ML.Tokenizers 2.0.1 encodes a
    /// lone character that needs byte fallback, e.g. "é" with tok512, to nothing).
    /// </summary>
    private const string ContextWord = "the";

    private readonly ModelTokenizer _tokenizer;

    /// <summary>The context token(s) and their text, or empty while nothing has been emitted.</summary>
    private readonly int[] _contextIds;
    private readonly string _contextText;

    /// <summary>Context (once started) followed by the tokens whose text is not emitted yet.</summary>
    private readonly List<int> _window = [];
    private bool _started;

    public TokenTextStream(ModelTokenizer tokenizer)
    {
        _tokenizer = tokenizer;
        _contextIds = tokenizer.Encode(ContextWord, addBos: false);
        _contextText = tokenizer.Decode(_contextIds);
    }

    /// <summary>Length of the decode window; it stays a few tokens long however long the stream is.</summary>
    internal int WindowLength => _window.Count;

    private int ContextLength => _started ? _contextIds.Length : 0;

    /// <summary>Adds <paramref name="id"/> and returns the text it completes (possibly empty).</summary>
    public string Push(int id)
    {
        _window.Add(id);
        string text = _tokenizer.Decode(_window);
        string context = _started ? _contextText : string.Empty;
        bool capped = _window.Count - ContextLength >= MaxPendingTokens;
        if (text.Length <= context.Length)
        {
            // Tokens that decode to nothing (SentencePiece control tokens) cannot change later text; drop them.
            if (capped) _window.RemoveRange(ContextLength, _window.Count - ContextLength);
            return string.Empty;
        }
        if (text[^1] == '\uFFFD' && !capped) return string.Empty;
        return Emit(text, context);
    }

    /// <summary>Whatever is still held back (an unfinished UTF-8 character) at the end of generation.</summary>
    public string Flush()
    {
        string text = _tokenizer.Decode(_window);
        string context = _started ? _contextText : string.Empty;
        return text.Length > context.Length ? Emit(text, context) : string.Empty;
    }

    private string Emit(string text, string context)
    {
        _window.Clear();
        _window.AddRange(_contextIds);
        _started = true;
        return text[context.Length..];
    }
}
