using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Tokenization;
using Microsoft.Extensions.AI;

namespace Caldera.Runtime.Tests.Tokenization;

public class EmbeddedVocabularyTests
{
    [Theory]
    [InlineData("stories260K/tok512.bin", "stories260K/tok512.model")]
    [InlineData("llama2-tokenizer/tokenizer.bin", "llama2-tokenizer/tokenizer.model")]
    public void Llama_vocabulary_as_gguf_stores_it_encodes_like_the_SentencePiece_model(string bin, string model)
    {
        var embedded = ModelTokenizer.FromVocabulary(GgufLlamaVocabularyFromLlama2cBin(TestModels.Shared(bin)), "model.gguf");
        var reference = ModelTokenizer.Load(TestModels.Shared(model));
        Assert.Equal(1, embedded.BosId);
        Assert.Equal([2], embedded.EosIds);
        foreach (string text in new[] { TokenizerFiles.TinyStoriesSample, TokenizerFiles.Multilingual, "Once upon a time" })
        {
            int[] ids = reference.Encode(text);
            Assert.Equal(ids, embedded.Encode(text));
            Assert.Equal(reference.Decode(ids), embedded.Decode(ids));
        }
    }

    [Fact]
    public void Gpt2_vocabulary_as_gguf_stores_it_encodes_like_Llama3_tokenizer_json()
    {
        var embedded = ModelTokenizer.FromVocabulary(GgufGpt2VocabularyFromTokenizerJson(TokenizerFiles.Llama3Json), "llama3.gguf");
        var reference = TokenizerFiles.Llama3;
        Assert.Equal(128000, embedded.BosId);
        Assert.Equal([128009, 128001], embedded.EosIds); // instruct GGUFs declare <|eot_id|> as EOS
        string chat = Llama3ChatTemplate.Render([new(ChatRole.User, TokenizerFiles.Multilingual)]);
        foreach (string text in new[] { TokenizerFiles.TinyStoriesSample, TokenizerFiles.Multilingual, chat })
        {
            int[] ids = reference.Encode(text, addBos: false);
            Assert.Equal(ids, embedded.Encode(text, addBos: false));
            Assert.Equal(text, embedded.Decode(ids));
        }
    }

    [Fact]
    public void Unsupported_model_names_the_setting()
    {
        var v = new EmbeddedVocabulary("bert", ["[PAD]", "[CLS]"], null, null, null, 1, 1, 0, null);
        var e = Assert.Throws<ModelFormatException>(() => ModelTokenizer.FromVocabulary(v, "m.gguf"));
        Assert.Contains("m.gguf", e.Message);
        Assert.Contains("tokenizer.ggml.model", e.Message);
    }

    [Fact]
    public void Llama_vocabulary_bad_settings_name_the_setting()
    {
        var good = GgufLlamaVocabularyFromLlama2cBin(TokenizerFiles.Tok512Bin);
        AssertSetting(good with { Scores = null }, "tokenizer.ggml.scores");
        AssertSetting(good with { Scores = good.Scores![..10] }, "tokenizer.ggml.scores");
        AssertSetting(good with { TokenTypes = good.TokenTypes![..10] }, "tokenizer.ggml.token_type");
        AssertSetting(good with { TokenTypes = [.. good.TokenTypes!.Select(t => t == 1 ? 9 : t)] }, "tokenizer.ggml.token_type");
        AssertSetting(good with { BosId = 512 }, "tokenizer.ggml.bos_token_id");
        AssertSetting(good with { EosId = -1 }, "tokenizer.ggml.eos_token_id");
        AssertSetting(good with { Tokens = [.. good.Tokens.Select((t, i) => i == 300 ? "" : t)] }, "tokenizer.ggml.tokens");
        AssertSetting(good with { Tokens = [] }, "tokenizer.ggml.tokens");
    }

    [Fact]
    public void Gpt2_vocabulary_bad_settings_name_the_setting()
    {
        var tokens = new[] { "a", "b", "ab", "<|begin_of_text|>", "<|end_of_text|>" };
        var good = new EmbeddedVocabulary("gpt2", tokens, null, [1, 1, 1, 3, 3], ["a b"], 3, 4, null, "llama-bpe");
        Assert.Equal([2], ModelTokenizer.FromVocabulary(good, "m.gguf").Encode("ab", addBos: false));
        AssertSetting(good with { PreTokenizer = "qwen2" }, "tokenizer.ggml.pre");
        AssertSetting(good with { PreTokenizer = null }, "tokenizer.ggml.pre");
        AssertSetting(good with { Tokens = ["a", "b", "a b\u4e00", "<|begin_of_text|>", "<|end_of_text|>"] }, "tokenizer.ggml.tokens");
        AssertSetting(good with { BosId = 7 }, "tokenizer.ggml.bos_token_id");
        AssertSetting(good with { TokenTypes = [1, 1] }, "tokenizer.ggml.token_type");
    }

    private static void AssertSetting(EmbeddedVocabulary v, string setting)
    {
        var e = Assert.Throws<ModelFormatException>(() => ModelTokenizer.FromVocabulary(v, "m.gguf"));
        Assert.StartsWith("m.gguf: ", e.Message);
        Assert.Contains(setting, e.Message);
    }

    /// <summary>
    /// The vocabulary llama.cpp's llama2.c converter writes into GGUF from a tokenizer.bin: BOS/EOS pieces
    /// become &lt;s&gt;/&lt;/s&gt;, spaces become "▁", and token types mark unknown, control and byte pieces.
    /// </summary>
    internal static EmbeddedVocabulary GgufLlamaVocabularyFromLlama2cBin(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var tokens = new List<string>();
        var scores = new List<float>();
        var types = new List<int>();
        for (int offset = 4; offset < bytes.Length;)
        {
            scores.Add(BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(offset)));
            int length = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset + 4));
            string text = Encoding.UTF8.GetString(bytes, offset + 8, length);
            offset += 8 + length;
            (string token, int type) = text switch
            {
                "<unk>" => (text, 2),
                "\n<s>\n" => ("<s>", 3),
                "\n</s>\n" => ("</s>", 3),
                _ when text.Length == 6 && text.StartsWith("<0x") => (text, 6),
                _ => (text.Replace(' ', '▁'), 1),
            };
            tokens.Add(token);
            types.Add(type);
        }
        return new EmbeddedVocabulary("llama", [.. tokens], [.. scores], [.. types], null, 1, 2, 0, null);
    }

    /// <summary>
    /// The vocabulary llama.cpp's converter writes into GGUF for a Llama 3 instruct model: tokens by id in the
    /// byte-level alphabet, added tokens typed as control, the merges, EOS = &lt;|eot_id|&gt;, pre "llama-bpe".
    /// </summary>
    private static EmbeddedVocabulary GgufGpt2VocabularyFromTokenizerJson(string path)
    {
        using var json = JsonDocument.Parse(File.ReadAllBytes(path));
        var model = json.RootElement.GetProperty("model");
        var added = json.RootElement.GetProperty("added_tokens").EnumerateArray()
            .ToDictionary(t => t.GetProperty("id").GetInt32(), t => t.GetProperty("content").GetString()!);
        var byId = model.GetProperty("vocab").EnumerateObject().ToDictionary(p => p.Value.GetInt32(), p => p.Name);
        foreach (var (id, content) in added) byId[id] = content;
        var tokens = new string[byId.Keys.Max() + 1];
        var types = new int[tokens.Length];
        foreach (var (id, token) in byId)
        {
            tokens[id] = token;
            types[id] = added.ContainsKey(id) ? 3 : 1;
        }
        string[] merges = [.. model.GetProperty("merges").EnumerateArray().Select(m => m.GetString()!)];
        return new EmbeddedVocabulary("gpt2", tokens, null, types, merges, 128000, 128009, null, "llama-bpe");
    }
}
