using System.Text.RegularExpressions;

namespace Caldera.Runtime.Tokenization;

/// <summary>
/// The regular expressions that split text into words before byte-level BPE runs on each word; BPE never
/// merges across these boundaries, so the pattern is part of the tokenizer's definition.
/// </summary>
internal static partial class PreTokenizerPatterns
{
    /// <summary>Llama 3's split: contractions, letter runs with one leading non-letter, 1–3 digit groups, punctuation, newlines, spaces.</summary>
    public const string Llama3 =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>GPT-2's split (the ByteLevel pre-tokenizer with use_regex).</summary>
    public const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>A hostile pattern from a file must not hang encoding; real patterns match a word in microseconds.</summary>
    private static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(2);

    [GeneratedRegex(Llama3)]
    private static partial Regex Llama3Regex();

    [GeneratedRegex(Gpt2)]
    private static partial Regex Gpt2Regex();

    /// <summary>The compiled regex for <paramref name="pattern"/>; throws <see cref="ArgumentException"/> for an invalid one.</summary>
    public static Regex ToRegex(string pattern) => pattern switch
    {
        Llama3 => Llama3Regex(),
        Gpt2 => Gpt2Regex(),
        _ => new Regex(pattern, RegexOptions.None, MatchTimeout),
    };

    /// <summary>The GGUF <c>tokenizer.ggml.pre</c> names (llama.cpp's) this runtime knows.</summary>
    public const string SupportedGgufNames = "llama-bpe, gpt-2";

    /// <summary>
    /// The pattern for GGUF's <c>tokenizer.ggml.pre</c>, or null when it is not one this runtime knows
    /// (llama.cpp's "default", used when the key is absent, is a different split from GPT-2's).
    /// </summary>
    public static string? ForGgufPreTokenizer(string? name) => name switch
    {
        "llama-bpe" => Llama3,
        "gpt-2" => Gpt2,
        _ => null,
    };
}
