using Caldera.Runtime.Tokenization;

namespace Caldera.Runtime.Tests.Tokenization;

/// <summary>The shared tokenizer files, each loaded once per test run, and the texts the tests encode.</summary>
internal static class TokenizerFiles
{
    public static string Tok512Model => TestModels.Tok512Model;
    public static string Tok512Bin => TestModels.Shared("stories260K/tok512.bin");
    public static string Llama2Model => TestModels.Llama2TokenizerModel;
    public static string Llama2Bin => TestModels.Shared("llama2-tokenizer/tokenizer.bin");
    public static string Llama3Json => TestModels.Llama3TokenizerJson;
    public static string Llama3Config => TestModels.Shared("llama3-tokenizer/tokenizer_config.json");

    private static readonly Lazy<ModelTokenizer> Tok512ModelTokenizer = new(() => ModelTokenizer.Load(Tok512Model));
    private static readonly Lazy<ModelTokenizer> Llama2ModelTokenizer = new(() => ModelTokenizer.Load(Llama2Model));
    private static readonly Lazy<ModelTokenizer> Llama3JsonTokenizer = new(() => ModelTokenizer.Load(Llama3Json));

    public static ModelTokenizer Tok512 => Tok512ModelTokenizer.Value;
    public static ModelTokenizer Llama2 => Llama2ModelTokenizer.Value;
    public static ModelTokenizer Llama3 => Llama3JsonTokenizer.Value;

    /// <summary>Accents, combining marks, Greek, Cyrillic, CJK, emoji (with ZWJ sequences and skin tones), digits.</summary>
    public const string Multilingual =
        "Café, naïve façade: Ünïcödé « ça va ? » Straße — Ελληνικά, русский текст. " +
        "日本語のテキストと中文字符，한국어도 있어요。 Emoji: 😀🎉👩‍👩‍👧 👍🏽 ❤️ e\u0301 1234567.89 ∑∞ ½\n\nSecond paragraph: ¿Qué tal? Ça marche!";

    private static readonly Lazy<string> TinyStoriesSampleText = new(() => BuildTinyStoriesSample(12_000));

    /// <summary>
    /// The first ~12,000 characters of the TinyStories validation text, paragraphs trimmed and joined with
    /// "\n\n", skipping the few with doubled spaces: tok512.model's normalizer collapses repeated spaces while
    /// llama2.c's encoder (and so tok512.bin) keeps them, and this text is for comparing the two.
    /// </summary>
    public static string TinyStoriesSample => TinyStoriesSampleText.Value;

    private static string BuildTinyStoriesSample(int minChars)
    {
        var paragraphs = new List<string>();
        int chars = 0;
        foreach (string paragraph in File.ReadAllText(TestModels.TinyStoriesText).Split("\n\n"))
        {
            string p = paragraph.Trim();
            if (p.Length == 0 || p.Contains("  ", StringComparison.Ordinal)) continue;
            paragraphs.Add(p);
            chars += p.Length + 2;
            if (chars >= minChars) break;
        }
        return string.Join("\n\n", paragraphs);
    }
}
