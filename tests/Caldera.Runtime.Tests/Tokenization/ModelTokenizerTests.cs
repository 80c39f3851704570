using Caldera.Runtime.Tokenization;
using Microsoft.ML.Tokenizers;

namespace Caldera.Runtime.Tests.Tokenization;

public class ModelTokenizerTests
{
    [Fact]
    public void Llama2_SentencePieceModel_EncodesReferenceIds()
    {
        Assert.Equal([1, 15043, 3186], TokenizerFiles.Llama2.Encode("Hello world"));
        Assert.Equal(1, TokenizerFiles.Llama2.BosId);
        Assert.Equal([2], TokenizerFiles.Llama2.EosIds);
    }

    [Fact]
    public void Llama3_TokenizerJson_EncodesReferenceIds()
    {
        var llama3 = TokenizerFiles.Llama3;
        Assert.IsType<TiktokenTokenizer>(llama3.Inner);
        Assert.Equal([128000, 9906, 1917], llama3.Encode("Hello world"));
        Assert.Equal(128000, llama3.BosId);
    }

    [Fact]
    public void Llama3_EndOfGeneration_IsConfigEosThenEndOfTurn()
    {
        // tokenizer_config.json beside tokenizer.json names <|end_of_text|>; <|eot_id|> also ends a turn.
        Assert.Equal([128001, 128009], TokenizerFiles.Llama3.EosIds);
    }

    [Fact]
    public void Tok512_Model_And_Bin_EncodeOnceUponATimeLikeLlama2c()
    {
        int[] expected = [1, 403, 407, 261, 378];
        Assert.Equal(expected, TokenizerFiles.Tok512.Encode("Once upon a time"));
        Assert.Equal(expected, ModelTokenizer.Load(TokenizerFiles.Tok512Bin).Encode("Once upon a time"));
    }

    [Theory]
    [InlineData("stories260K/tok512.bin", "stories260K/tok512.model")]
    [InlineData("llama2-tokenizer/tokenizer.bin", "llama2-tokenizer/tokenizer.model")]
    public void Llama2cBin_GivesTheSameIdsAsItsSentencePieceModel(string bin, string model)
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
    public void Tok512Bin_KeepsRepeatedSpaces_AsLlama2cDoes()
    {
        // llama2.c's encoder has no whitespace normalization; the .bin carries none, so none is applied.
        const string text = "Tom  ran   home.";
        var bin = ModelTokenizer.Load(TokenizerFiles.Tok512Bin);
        Assert.Equal(text, bin.Decode(bin.Encode(text)));
    }

    [Fact]
    public void Llama2_DecodeRoundTripsAccentsCjkAndEmoji()
    {
        string text = TokenizerFiles.Multilingual + "\n\n" + TokenizerFiles.TinyStoriesSample[..2000];
        var ids = TokenizerFiles.Llama2.Encode(text);
        Assert.Contains(ids, id => id is >= 3 and <= 258); // some characters need byte-fallback pieces
        Assert.Equal(text, TokenizerFiles.Llama2.Decode(ids));
    }

    [Fact]
    public void Llama3_DecodeRoundTripsAccentsCjkAndEmoji()
    {
        string text = TokenizerFiles.Multilingual + "\n\n" + TokenizerFiles.TinyStoriesSample[..2000];
        var ids = TokenizerFiles.Llama3.Encode(text, addBos: false);
        Assert.Equal(text, TokenizerFiles.Llama3.Decode(ids));
        // Byte-level BPE writes special tokens out as their text.
        Assert.Equal("<|begin_of_text|>" + text, TokenizerFiles.Llama3.Decode(TokenizerFiles.Llama3.Encode(text)));
    }

    [Fact]
    public void Llama3_SpecialTokenTextEncodesToItsId()
    {
        var ids = TokenizerFiles.Llama3.Encode("<|start_header_id|>user<|end_header_id|>", addBos: false);
        Assert.Equal([128006, 882, 128007], ids);
    }

    [Fact]
    public void TokenizerJson_BosAndEos_ComeFromTheConfigBesideIt_ElseFromTheSpecialTokens()
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
