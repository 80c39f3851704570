using Caldera.Runtime.Tokenization;
using Microsoft.ML.Tokenizers;

namespace Caldera.Runtime.Tests.Tokenization;

public class ModelTokenizerTests
{
    [Fact]
    public void Llama2_SentencePiece_model_encodes_reference_ids()
    {
        Assert.Equal([1, 15043, 3186], TokenizerFiles.Llama2.Encode("Hello world"));
        Assert.Equal(1, TokenizerFiles.Llama2.BosId);
        Assert.Equal([2], TokenizerFiles.Llama2.EosIds);
    }

    [Fact]
    public void Llama3_tokenizer_json_encodes_reference_ids()
    {
        var llama3 = TokenizerFiles.Llama3;
        Assert.IsType<TiktokenTokenizer>(Assert.IsType<LibraryTokenizer>(llama3.Inner).Library);
        Assert.Equal([128000, 9906, 1917], llama3.Encode("Hello world"));
        Assert.Equal(128000, llama3.BosId);
    }

    [Fact]
    public void Llama3_end_of_generation_is_config_EOS_then_end_of_turn()
    {
        // tokenizer_config.json beside tokenizer.json names <|end_of_text|>; <|eot_id|> also ends a turn.
        Assert.Equal([128001, 128009], TokenizerFiles.Llama3.EosIds);
    }

    [Fact]
    public void Tok512_model_and_bin_encode_once_upon_a_time_like_llama2c()
    {
        int[] expected = [1, 403, 407, 261, 378];
        Assert.Equal(expected, TokenizerFiles.Tok512.Encode("Once upon a time"));
        Assert.Equal(expected, ModelTokenizer.Load(TokenizerFiles.Tok512Bin).Encode("Once upon a time"));
    }

    [Theory]
    [InlineData("stories260K/tok512.bin", "stories260K/tok512.model")]
    [InlineData("llama2-tokenizer/tokenizer.bin", "llama2-tokenizer/tokenizer.model")]
    public void Llama2cBin_gives_the_same_ids_as_its_SentencePiece_model(string bin, string model)
    {
        var fromBin = ModelTokenizer.Load(TestModels.Shared(bin));
        var fromModel = ModelTokenizer.Load(TestModels.Shared(model));
        Assert.Equal(fromModel.BosId, fromBin.BosId);
        Assert.Equal(fromModel.EosIds, fromBin.EosIds);
        foreach (string text in new[] { TokenizerFiles.TinyStoriesSample, TokenizerFiles.Multilingual })
        {
            int[] ids = fromModel.Encode(text);
            Assert.True(ids.Length > 50);
            Assert.Equal(ids, fromBin.Encode(text));
            Assert.Equal(fromModel.Decode(ids), fromBin.Decode(ids));
        }
    }

    [Fact]
    public void Tok512_bin_keeps_repeated_spaces_as_llama2c_does()
    {
        // llama2.c's encoder has no whitespace normalization; the .bin carries none, so none is applied.
        const string text = "Tom  ran   home.";
        var bin = ModelTokenizer.Load(TokenizerFiles.Tok512Bin);
        Assert.Equal(text, bin.Decode(bin.Encode(text)));
    }

    [Fact]
    public void Llama2_decode_round_trips_accents_CJK_and_emoji()
    {
        string text = TokenizerFiles.Multilingual + "\n\n" + TokenizerFiles.TinyStoriesSample[..2000];
        var ids = TokenizerFiles.Llama2.Encode(text);
        Assert.Contains(ids, id => id is >= 3 and <= 258); // some characters need byte-fallback pieces
        Assert.Equal(text, TokenizerFiles.Llama2.Decode(ids));
    }

    [Fact]
    public void Llama3_decode_round_trips_accents_CJK_and_emoji()
    {
        string text = TokenizerFiles.Multilingual + "\n\n" + TokenizerFiles.TinyStoriesSample[..2000];
        var ids = TokenizerFiles.Llama3.Encode(text, addBos: false);
        Assert.Equal(text, TokenizerFiles.Llama3.Decode(ids));
        // Byte-level BPE writes special tokens out as their text.
        Assert.Equal("<|begin_of_text|>" + text, TokenizerFiles.Llama3.Decode(TokenizerFiles.Llama3.Encode(text)));
    }

    [Fact]
    public void Llama3_special_token_text_encodes_to_its_id()
    {
        var ids = TokenizerFiles.Llama3.Encode("<|start_header_id|>user<|end_header_id|>", addBos: false);
        Assert.Equal([128006, 882, 128007], ids);
    }

    [Fact]
    public void TokenizerJson_BOS_and_EOS_come_from_the_config_beside_it_else_from_the_special_tokens()
    {
        using var dir = new TempDirectory();
        string json = dir.Write("tokenizer.json", """
            { "pre_tokenizer": { "type": "ByteLevel" },
              "added_tokens": [ { "id": 3, "content": "<|begin_of_text|>" }, { "id": 4, "content": "<|end_of_text|>" },
                                { "id": 5, "content": "<|eot_id|>" } ],
              "model": { "type": "BPE", "vocab": { "a": 0, "b": 1, "ab": 2 }, "merges": [ "a b" ] } }
            """);

        // No tokenizer_config.json: Llama 3's BOS, and both of its end-of-turn tokens.
        var defaults = ModelTokenizer.Load(json);
        Assert.Equal([3, 2], defaults.Encode("ab"));
        Assert.Equal([4, 5], defaults.EosIds);

        // An instruct config names <|eot_id|> (as a string or an added-token object); it comes first.
        dir.Write("tokenizer_config.json", """{ "bos_token": "<|begin_of_text|>", "eos_token": { "content": "<|eot_id|>" } }""");
        var instruct = ModelTokenizer.Load(json);
        Assert.Equal(3, instruct.BosId);
        Assert.Equal([5, 4], instruct.EosIds);
    }
}
