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

    public KvCache Cache { get; } = cache;

    /// <summary>The tokens in the cache, positions 0..Length−1.</summary>
    public ReadOnlySpan<int> Tokens => _tokens.AsSpan(0, _length);

    public int Length => Volatile.Read(ref _length);

    /// <summary>
    /// How many of <paramref name="prompt"/>'s tokens the cache holds already (its common prefix with the history), at
    /// most prompt.Length − 1: the last prompt token always runs, since its logits choose the first new token.
    /// </summary>
    public int ReusablePrefix(ReadOnlySpan<int> prompt) => Math.Min(Tokens.CommonPrefixLength(prompt), prompt.Length - 1);

    public void Truncate(int length) => Volatile.Write(ref _length, Math.Min(_length, length));

    public void Append(ReadOnlySpan<int> tokens)
    {
        tokens.CopyTo(_tokens.AsSpan(_length));
        Volatile.Write(ref _length, _length + tokens.Length);
    }
}
