using System.Buffers.Binary;
using System.Text;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Tokenization;

namespace Caldera.Runtime.Tests.Tokenization;

/// <summary>Every unreadable tokenizer file gives a <see cref="ModelFormatException"/> naming it, never another exception.</summary>
public sealed class CorruptTokenizerFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static ModelFormatException AssertRejected(string path, string expectedProblem)
    {
        var e = Assert.Throws<ModelFormatException>(() => ModelTokenizer.Load(path));
        Assert.Equal(path, e.FilePath);
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(expectedProblem, e.Message);
        return e;
    }

    [Fact]
    public void Missing_file() => AssertRejected(_dir.File("nope.model"), "not found");

    [Fact]
    public void Llama2cBin_header_without_tokens() =>
        AssertRejected(_dir.Write("t.bin", [7, 0, 0, 0]), "0 tokens");

    [Fact]
    public void Too_short_to_be_anything() =>
        AssertRejected(_dir.Write("t.bin", [7, 0, 0]), "not a readable SentencePiece model");

    [Fact]
    public void Llama2cBin_truncated_inside_a_record()
    {
        byte[] bin = File.ReadAllBytes(TokenizerFiles.Tok512Bin);
        AssertRejected(_dir.Write("t.bin", bin[..^2]), "truncated");
        AssertRejected(_dir.Write("u.bin", bin[..(4 + 8 + 5 + 3)]), "truncated"); // token 1 cut inside its score/length
    }

    [Fact]
    public void Llama2cBin_length_past_the_end()
    {
        byte[] bin = File.ReadAllBytes(TokenizerFiles.Tok512Bin);
        BinaryPrimitives.WriteInt32LittleEndian(bin, 60_000); // a plausible max_token_length …
        BinaryPrimitives.WriteInt32LittleEndian(bin.AsSpan(4 + 4), 50_000); // … and token 0 claims 50,000 bytes
        AssertRejected(_dir.Write("t.bin", bin), "past the end");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData(int.MaxValue)]
    [InlineData(8)] // over max_token_length (7)
    public void Llama2cBin_length_outside_max_token_length(int length)
    {
        byte[] bin = File.ReadAllBytes(TokenizerFiles.Tok512Bin);
        BinaryPrimitives.WriteInt32LittleEndian(bin.AsSpan(4 + 4), length);
        AssertRejected(_dir.Write("t.bin", bin), "outside 1..max_token_length");
    }

    [Fact]
    public void Llama2cBin_invalid_UTF8()
    {
        byte[] bin = File.ReadAllBytes(TokenizerFiles.Tok512Bin);
        bin[4 + 8] = 0xFF; // first byte of "<unk>"
        AssertRejected(_dir.Write("t.bin", bin), "UTF-8");
    }

    [Fact]
    public void Llama2cBin_without_BOS_EOS()
    {
        byte[] bin = File.ReadAllBytes(TokenizerFiles.Tok512Bin);
        // Keep the header and token 0 (<unk>) only.
        AssertRejected(_dir.Write("t.bin", bin[..(4 + 8 + 5)]), "BOS");
    }

    [Fact]
    public void Llama2cBin_every_truncation_is_rejected_or_loads_at_a_record_boundary()
    {
        byte[] bin = File.ReadAllBytes(TokenizerFiles.Tok512Bin);
        for (int cut = 1; cut < bin.Length; cut += 37)
        {
            string path = _dir.Write($"cut{cut}.bin", bin[..cut]);
            try
            {
                ModelTokenizer.Load(path).Encode("Once upon a time");
            }
            catch (ModelFormatException e)
            {
                Assert.Equal(path, e.FilePath);
            }
        }
    }

    [Fact]
    public void SentencePieceModel_bad_protobuf()
    {
        byte[] model = File.ReadAllBytes(TokenizerFiles.Tok512Model);
        AssertRejected(_dir.Write("half.model", model[..(model.Length / 2 + 3)]), "SentencePiece");
        AssertRejected(_dir.Write("garbage.model", Encoding.ASCII.GetBytes("this is not a tokenizer at all")), "SentencePiece");

        byte[] hugeLength = [.. model];
        hugeLength[1] = 0xFF; // the first piece's length varint now claims ~2 GB
        hugeLength[2] = 0xFF;
        hugeLength[3] = 0xFF;
        hugeLength[4] = 0x07;
        AssertRejected(_dir.Write("huge.model", hugeLength), "SentencePiece");
    }

    [Fact]
    public void SentencePieceModel_every_truncation_is_rejected_or_loads()
    {
        byte[] model = File.ReadAllBytes(TokenizerFiles.Tok512Model);
        for (int cut = 1; cut < model.Length; cut += 41)
        {
            string path = _dir.Write($"cut{cut}.model", model[..cut]);
            try
            {
                ModelTokenizer.Load(path).Encode("Once upon a time");
            }
            catch (ModelFormatException e)
            {
                Assert.Equal(path, e.FilePath);
            }
        }
    }

    [Fact]
    public void TokenizerJson_invalid_json() =>
        AssertRejected(_dir.Write("tokenizer.json", """{ "model": { "type": "BPE", "vocab": {"a": 0"""), "is not valid JSON");

    [Fact]
    public void TokenizerJson_unsupported_model_type() =>
        AssertRejected(_dir.Write("tokenizer.json", """{ "model": { "type": "WordPiece", "vocab": {"a": 0} } }"""), "model.type");

    [Fact]
    public void TokenizerJson_SentencePiece_style_bpe_is_rejected() =>
        AssertRejected(_dir.Write("tokenizer.json", """
            { "normalizer": { "type": "Replace" }, "pre_tokenizer": null,
              "model": { "type": "BPE", "vocab": { "▁a": 0 }, "merges": [] } }
            """), "normalizer");

    [Fact]
    public void TokenizerJson_unsupported_pre_tokenizer() =>
        AssertRejected(_dir.Write("tokenizer.json", """
            { "pre_tokenizer": { "type": "Whitespace" }, "model": { "type": "BPE", "vocab": { "a": 0 }, "merges": [] } }
            """), "pre_tokenizer");

    [Fact]
    public void TokenizerJson_token_outside_the_byte_level_alphabet() =>
        AssertRejected(_dir.Write("tokenizer.json", """
            { "pre_tokenizer": { "type": "ByteLevel" }, "added_tokens": [ { "id": 2, "content": "<s>" } ],
              "model": { "type": "BPE", "vocab": { "a": 0, "a b": 1 }, "merges": [] } }
            """), "byte-level alphabet");

    [Fact]
    public void TokenizerJson_invalid_split_regex() =>
        AssertRejected(_dir.Write("tokenizer.json", """
            { "pre_tokenizer": { "type": "Sequence", "pretokenizers": [
                { "type": "Split", "pattern": { "Regex": "(unclosed" }, "behavior": "Isolated", "invert": false },
                { "type": "ByteLevel", "add_prefix_space": false, "use_regex": false } ] },
              "added_tokens": [ { "id": 1, "content": "<s>" } ],
              "model": { "type": "BPE", "vocab": { "a": 0 }, "merges": [] } }
            """), "invalid regex");

    [Fact]
    public void TokenizerConfig_naming_an_unknown_token_is_rejected_naming_the_config()
    {
        string json = _dir.Write("tokenizer.json", """
            { "pre_tokenizer": { "type": "ByteLevel" }, "added_tokens": [ { "id": 1, "content": "<s>" } ],
              "model": { "type": "BPE", "vocab": { "a": 0 }, "merges": [] } }
            """);
        string config = _dir.Write("tokenizer_config.json", """{ "bos_token": "<s>", "eos_token": "<|im_end|>" }""");
        var e = Assert.Throws<ModelFormatException>(() => ModelTokenizer.Load(json));
        Assert.Equal(config, e.FilePath);
        Assert.Contains("eos_token", e.Message);

        _dir.Write("tokenizer_config.json", "{ not json");
        e = Assert.Throws<ModelFormatException>(() => ModelTokenizer.Load(json));
        Assert.Equal(config, e.FilePath);
    }
}
