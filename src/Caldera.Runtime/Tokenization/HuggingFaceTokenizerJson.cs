using System.Text.Json;
using Caldera.Runtime.Formats;

namespace Caldera.Runtime.Tokenization;

/// <summary>
/// Reads a Hugging Face <c>tokenizer.json</c> whose model is byte-level BPE (Llama 3, GPT-2 style) and,
/// when it sits beside it, <c>tokenizer_config.json</c> for the BOS and EOS tokens. Only the parts that
/// define tokenization are read: <c>model.vocab</c>, <c>added_tokens</c>, <c>normalizer</c> and
/// <c>pre_tokenizer</c>. Parsing uses <see cref="JsonDocument"/> (no reflection, NativeAOT-safe).
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
        using var document = Parse(path, json);
        var root = document.RootElement;
        var model = Object(path, root, "model");
        string type = String(path, model, "type", "model.type");
        if (type != "BPE")
            throw ModelFormatException.ForSetting(path, "model.type", $"'{type}' is not supported; only byte-level BPE tokenizer.json files are");
        if (root.TryGetProperty("normalizer", out var normalizer) && normalizer.ValueKind != JsonValueKind.Null)
            throw ModelFormatException.ForSetting(path, "normalizer",
                "a normalizer is not supported for byte-level BPE (SentencePiece-style tokenizer.json? load its tokenizer.model instead)");
        string pattern = SplitPattern(path, root);

        var vocab = Object(path, model, "vocab");
        var special = new Dictionary<int, string>();
        if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
            foreach (var token in added.EnumerateArray())
                special[Int(path, token, "id", "added_tokens[].id")] = String(path, token, "content", "added_tokens[].content");

        var tokens = new List<(string, int, bool)>(special.Count + 1024);
        foreach (var entry in vocab.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id))
                throw ModelFormatException.ForSetting(path, "model.vocab", $"the id of '{entry.Name}' is not an int32");
            if (!special.ContainsKey(id)) tokens.Add((entry.Name, id, false));
        }
        foreach (var (id, content) in special) tokens.Add((content, id, true));
        var vocabulary = ByteLevelBpeVocabulary.Create(path, "model.vocab", tokens, pattern);

        var (bosToken, eosToken) = config is null ? (null, null) : ReadConfig(configPath, config);
        int bos = Resolve(path, configPath, vocabulary, bosToken, DefaultBosTokens, "bos_token");
        int eos = Resolve(path, configPath, vocabulary, eosToken, DefaultEosTokens, "eos_token");
        return vocabulary.ToModelTokenizer(bos, vocabulary.EndOfGenerationIds(eos));
    }

    /// <summary>
    /// The split regex: Sequence[Split(Regex, Isolated), ByteLevel(use_regex false)] as in Llama 3, or a lone
    /// ByteLevel with use_regex as in GPT-2.
    /// </summary>
    private static string SplitPattern(string path, JsonElement root)
    {
        const string setting = "pre_tokenizer";
        var pre = Object(path, root, setting);
        string type = String(path, pre, "type", "pre_tokenizer.type");
        if (type == "ByteLevel" && (!pre.TryGetProperty("use_regex", out var useRegex) || useRegex.ValueKind == JsonValueKind.True))
            return PreTokenizerPatterns.Gpt2;
        if (type == "Sequence" && pre.TryGetProperty("pretokenizers", out var steps) && steps.ValueKind == JsonValueKind.Array &&
            steps.GetArrayLength() == 2 && steps[0].ValueKind == JsonValueKind.Object && steps[1].ValueKind == JsonValueKind.Object &&
            steps[0].TryGetProperty("type", out var t0) && t0.ValueEquals("Split") &&
            steps[0].TryGetProperty("behavior", out var behavior) && behavior.ValueEquals("Isolated") &&
            steps[0].TryGetProperty("pattern", out var p) && p.ValueKind == JsonValueKind.Object &&
            p.TryGetProperty("Regex", out var regex) && regex.ValueKind == JsonValueKind.String &&
            steps[1].TryGetProperty("type", out var t1) && t1.ValueEquals("ByteLevel") &&
            steps[1].TryGetProperty("use_regex", out var innerRegex) && innerRegex.ValueKind == JsonValueKind.False)
        {
            string pattern = regex.GetString()!;
            try
            {
                PreTokenizerPatterns.ToRegex(pattern);
            }
            catch (ArgumentException e)
            {
                throw ModelFormatException.ForSetting(path, "pre_tokenizer.pretokenizers[0].pattern.Regex", $"invalid regex ({e.Message})");
            }
            return pattern;
        }
        throw ModelFormatException.ForSetting(path, setting,
            $"'{type}' is not supported; expected ByteLevel, or Sequence[Split(Regex, Isolated), ByteLevel] as in Llama 3");
    }

    /// <summary>bos_token and eos_token of tokenizer_config.json (a string or {"content": ...}); nulls when absent.</summary>
    private static (string? Bos, string? Eos) ReadConfig(string configPath, byte[] config)
    {
        using var document = Parse(configPath, config);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw new ModelFormatException(configPath, "expected a JSON object");
        return (TokenContent(configPath, root, "bos_token"), TokenContent(configPath, root, "eos_token"));
    }

    private static string? TokenContent(string path, JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value)) return null;
        return value.ValueKind switch
        {
            JsonValueKind.Null => null,
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Object => String(path, value, "content", name + ".content"),
            _ => throw ModelFormatException.ForSetting(path, name, "expected a string or an object with \"content\""),
        };
    }

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

    private static JsonDocument Parse(string path, byte[] json)
    {
        try
        {
            return JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"invalid JSON ({e.Message})", e);
        }
    }

    private static JsonElement Object(string path, JsonElement parent, string name) =>
        parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Object
            ? value
            : throw ModelFormatException.ForSetting(path, name, "missing or not a JSON object");

    private static string String(string path, JsonElement parent, string name, string setting) =>
        parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw ModelFormatException.ForSetting(path, setting, "missing or not a string");

    private static int Int(string path, JsonElement parent, string name, string setting) =>
        parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var value) &&
        value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int result)
            ? result
            : throw ModelFormatException.ForSetting(path, setting, "missing or not an int32");
}
