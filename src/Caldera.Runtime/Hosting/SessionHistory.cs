using Caldera.Runtime.Inference;

namespace Caldera.Runtime.Hosting;

/// <summary>
/// A session's KV cache and the tokens whose keys and values it holds, in position order. A new turn reuses the
/// longest prefix of these that its prompt starts with and prefills only the rest.
/// </summary>
internal sealed class SessionHistory(KvCache cache)
{
    private readonly int[] _tokens = new int[cache.ContextLength];
    private int _length;

    /// <summary>
    /// Leading positions run in prompt batches of two or more tokens. Only those are reused: a batch and a lone token
    /// (a decode step, or a one-token prompt) round differently, so reusing a position a decode step made, or
    /// prefilling a one-token tail, could change what the same prompt gives on a fresh cache.
    /// </summary>
    private int _batched;

    public KvCache Cache { get; } = cache;

    /// <summary>The tokens in the cache, positions 0..Length−1.</summary>
    public ReadOnlySpan<int> Tokens => _tokens.AsSpan(0, _length);

    public int Length => Volatile.Read(ref _length);

    /// <summary>Tokens of the last turn's prompt (0 before the first): a later prompt that holds all of it continues this conversation.</summary>
    public int LastPromptLength { get; set; }

    /// <summary>
    /// Whether a prompt of which <paramref name="reused"/> tokens are reusable (<see cref="ReusablePrefix"/>) continues the
    /// conversation in the cache: it starts with the last turn's prompt (all of it but possibly its last token, which the
    /// next text may tokenize differently), not just with a header or system prompt that many conversations share.
    /// </summary>
    public bool ContinuedBy(int reused) => reused > 1 && reused >= LastPromptLength - 1;

    /// <summary>
    /// How many of <paramref name="prompt"/>'s tokens to take from the cache: its common prefix with the history, within
    /// the positions prompt batches made, leaving at least two prompt tokens to run (the last one's logits choose the
    /// first new token, and a batch of two or more rounds as a fresh prompt's batches do).
    /// </summary>
    public int ReusablePrefix(ReadOnlySpan<int> prompt) =>
        Math.Max(0, Math.Min(Math.Min(Tokens.CommonPrefixLength(prompt), _batched), prompt.Length - 2));

    public void Truncate(int length)
    {
        _batched = Math.Min(_batched, length);
        Volatile.Write(ref _length, Math.Min(_length, length));
    }

    /// <summary>Appends the tokens one run of the transformer took: a prompt chunk (<paramref name="batch"/>) or a fed-back token.</summary>
    public void Append(ReadOnlySpan<int> tokens, bool batch)
    {
        tokens.CopyTo(_tokens.AsSpan(_length));
        if (batch && tokens.Length > 1 && _batched == _length) _batched += tokens.Length;
        Volatile.Write(ref _length, _length + tokens.Length);
    }
}
