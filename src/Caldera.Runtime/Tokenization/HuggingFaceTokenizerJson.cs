using System.Text.Json;
using Caldera.Runtime.Formats;

namespace Caldera.Runtime.Tokenization;

/// <summary>
/// Reads a Hugging Face <c>tokenizer.json</c> whose model is byte-level BPE (Llama 3, GPT-2 style) and,
/// when it sits beside it, <c>tokenizer_config.json</c> for the BOS and EOS tokens. Only the parts that
/// define tokenization are read: <c>model.vocab</c>, <c>added_tokens</c>, <c>normalizer</c> and
/// <c>pre_tokenizer</c>, through <see cref="JsonFile"/> and <see cref="JsonSettings"/> (no reflection, NativeAOT-safe),
/// so errors name the file and the setting as every other JSON reader's do.
/// </summary>
internal static class HuggingFaceTokenizerJson
{
    public const string ConfigFileName = "tokenizer_config.json";

    /// <summary>BOS candidates, in order, when no tokenizer_config.json names one.</summary>
    private static readonly string[] DefaultBosTokens = ["<|begin_of_text|>", "<s>", "<|endoftext|>"];

    /// <summary>EOS candidates, in order, when no tokenizer_config.json names one.</summary>
    private static readonly string[] DefaultEosTokens = ["<|end_of_text|>", "<|eot_id|>", "</s>", "<|endoftext|>"];

    /// <summary>Reads <paramref name="json"/> (the file at <paramref name="path"/>) with the tokenizer_config.json beside it, if any.</summary>
    public static ModelTokenizer Read(string path, byte[] json)
    {
        string configPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", ConfigFileName);
        return Read(path, json, File.Exists(configPath) ? File.ReadAllBytes(configPath) : null, configPath);
    }

    /// <summary>
    /// Reads <paramref name="json"/> with <paramref name="config"/> as its tokenizer_config.json (null when there is
    /// none); <paramref name="path"/> and <paramref name="configPath"/> name them in errors.
    /// </summary>
    public static ModelTokenizer Read(string path, byte[] json, byte[]? config, string configPath)
    {
        using var document = JsonFile.Parse(path, json, "the tokenizer.json");
        var root = new JsonSettings(path, document.RootElement);
        var model = root.RequireObject("model");
        string type = model.RequireString("type");
        if (type != "BPE")
            throw model.Error("type", $"'{type}' is not supported; only byte-level BPE tokenizer.json files are");
        if (root.Has("normalizer"))
            throw root.Error("normalizer", "a normalizer is not supported for byte-level BPE (SentencePiece-style tokenizer.json? load its tokenizer.model instead)");
        string pattern = SplitPattern(root);

        var special = new Dictionary<int, string>();
        if (root.Has("added_tokens"))
        {
            var added = root.RequireArray("added_tokens");
            for (int i = 0; i < added.Length; i++)
            {
                var token = root.Item("added_tokens", i, added[i]);
                special[token.RequireInt32("id")] = token.RequireString("content");
            }
        }

        var tokens = new List<(string, int, bool)>(special.Count + 1024);
        foreach (var entry in model.RequireMembers("vocab"))
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id))
                throw model.Error("vocab", $"the id of '{entry.Name}' is not an int32");
            if (!special.ContainsKey(id)) tokens.Add((entry.Name, id, false));
        }
        foreach (var (id, content) in special) tokens.Add((content, id, true));
        var vocabulary = ByteLevelBpeVocabulary.Create(path, model.FullName("vocab"), tokens, pattern);

        var (bosToken, eosToken) = config is null ? (null, null) : ReadConfig(configPath, config);
        int bos = Resolve(path, configPath, vocabulary, bosToken, DefaultBosTokens, "bos_token");
        int eos = Resolve(path, configPath, vocabulary, eosToken, DefaultEosTokens, "eos_token");
        return vocabulary.ToModelTokenizer(bos, vocabulary.EndOfGenerationIds(eos));
    }

    /// <summary>
    /// The split regex: Sequence[Split(Regex, Isolated), ByteLevel(use_regex false)] as in Llama 3, or a lone
    /// ByteLevel with use_regex as in GPT-2.
    /// </summary>
    private static string SplitPattern(JsonSettings root)
    {
        const string setting = "pre_tokenizer";
        var pre = root.RequireObject(setting);
        string type = pre.RequireString("type");
        if (type == "ByteLevel" && pre.Bool("use_regex") != false)
            return PreTokenizerPatterns.Gpt2;
        if (type == "Sequence" && pre.Has("pretokenizers") && pre.RequireArray("pretokenizers") is [var split, var byteLevel] &&
            split.ValueKind == JsonValueKind.Object && byteLevel.ValueKind == JsonValueKind.Object &&
            split.TryGetProperty("type", out var t0) && t0.ValueEquals("Split") &&
            split.TryGetProperty("behavior", out var behavior) && behavior.ValueEquals("Isolated") &&
            split.TryGetProperty("pattern", out var p) && p.ValueKind == JsonValueKind.Object &&
            p.TryGetProperty("Regex", out var regex) && regex.ValueKind == JsonValueKind.String &&
            byteLevel.TryGetProperty("type", out var t1) && t1.ValueEquals("ByteLevel") &&
            byteLevel.TryGetProperty("use_regex", out var innerRegex) && innerRegex.ValueKind == JsonValueKind.False)
        {
            string pattern = regex.GetString()!;
            try
            {
                PreTokenizerPatterns.ToRegex(pattern);
            }
            catch (ArgumentException e)
            {
                throw pre.Error("pretokenizers[0].pattern.Regex", $"invalid regex ({e.Message})");
            }
            return pattern;
        }
        throw root.Error(setting, $"'{type}' is not supported; expected ByteLevel, or Sequence[Split(Regex, Isolated), ByteLevel] as in Llama 3");
    }

    /// <summary>bos_token and eos_token of tokenizer_config.json (a string or {"content": ...}); nulls when absent.</summary>
    private static (string? Bos, string? Eos) ReadConfig(string configPath, byte[] config)
    {
        using var document = JsonFile.Parse(configPath, config, "the tokenizer config");
        var root = new JsonSettings(configPath, document.RootElement);
        return (TokenContent(root, "bos_token"), TokenContent(root, "eos_token"));
    }

    private static string? TokenContent(JsonSettings config, string name) =>
        config.KindOf(name) == JsonValueKind.Object ? config.RequireObject(name).RequireString("content") : config.String(name);

    private static int Resolve(string path, string configPath, ByteLevelBpeVocabulary vocabulary, string? token, string[] defaults, string setting)
    {
        if (token is not null)
            return vocabulary.SpecialTokens.TryGetValue(token, out int id) ? id : throw ModelFormatException.ForSetting(configPath, setting,
                $"'{token}' is not one of the added tokens of {Path.GetFileName(path)}");
        foreach (string candidate in defaults)
            if (vocabulary.SpecialTokens.TryGetValue(candidate, out int id)) return id;
        throw ModelFormatException.ForSetting(path, setting,
            $"no {ConfigFileName} names it and none of {string.Join(", ", defaults)} is an added token; put {ConfigFileName} beside the file");
    }
}
