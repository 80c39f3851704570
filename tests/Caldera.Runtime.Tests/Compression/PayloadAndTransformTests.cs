using Caldera.Runtime.Compression;
using Caldera.Runtime.Incoherence;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tokenization;

namespace Caldera.Runtime.Tests.Compression;

public class PayloadAndTransformTests
{
    private const string Text = "Once upon a time, there was a little dog named Spot. He liked to run!";

    [Fact]
    public void Every_tokenizer_payload_kind_encodes_like_the_file_it_came_from()
    {
        var reference = ModelTokenizer.Load(TestModels.Tok512Model).Encode(Text);
        Assert.Equal(reference, Load(TokenizerPayloadKind.SentencePieceModel, TestModels.Tok512Model).Encode(Text));
        Assert.Equal(reference, Load(TokenizerPayloadKind.Llama2cBin, TestModels.Shared("stories260K/tok512.bin")).Encode(Text));

        using var gguf = ModelCheckpoint.Open(TestModels.TinyStories256dGguf);
        var vocabulary = gguf.Vocabulary!;
        var fromJson = ModelTokenizer.FromPayload(TokenizerPayload.FromVocabulary(vocabulary), "model.cald");
        Assert.Equal(ModelTokenizer.FromVocabulary(vocabulary, "model.gguf").Encode(Text), fromJson.Encode(Text));
        Assert.Equal(reference, fromJson.Encode(Text));
    }

    [Fact]
    public void An_embedded_vocabulary_survives_its_json_form()
    {
        using var gguf = ModelCheckpoint.Open(TestModels.TinyStories256dGguf);
        var v = gguf.Vocabulary!;
        var back = EmbeddedVocabularyJson.Parse(EmbeddedVocabularyJson.Serialize(v), "x");
        Assert.Equal((v.Model, v.BosId, v.EosId, v.UnknownId, v.PreTokenizer), (back.Model, back.BosId, back.EosId, back.UnknownId, back.PreTokenizer));
        Assert.Equal(v.Tokens, back.Tokens);
        Assert.Equal(v.Scores, back.Scores);
        Assert.Equal(v.TokenTypes, back.TokenTypes);
        Assert.Equal(v.Merges, back.Merges);
        Assert.Throws<ModelFormatException>(() => EmbeddedVocabularyJson.Parse("{\"model\": 3}"u8, "x"));
    }

    [Fact]
    public void A_corrupt_tokenizer_payload_is_a_format_error_naming_the_model()
    {
        var e = Assert.Throws<ModelFormatException>(() =>
            ModelTokenizer.FromPayload(new TokenizerPayload(TokenizerPayloadKind.SentencePieceModel, new byte[] { 1, 2, 3 }), "m.cald"));
        Assert.Contains("m.cald", e.Message);
    }

    [Theory]
    [InlineData(64)]
    [InlineData(172)] // fallback block 43×43
    [InlineData(768)]
    [InlineData(44)]  // Hadamard block of order 44 (Paley)
    [InlineData(15)]  // odd: the block is all of U
    public void A_transform_rebuilt_from_its_stored_form_is_identical(int n, ulong seed = 9)
    {
        var original = RandomizedHadamard.Create(n, seed);
        var data = TransformData.From(original);
        Assert.Equal(original.Transform.IsHadamard, data.FallbackBlock.IsEmpty);
        var rebuilt = data.ToRandomizedHadamard();
        var x = Kernels.KernelData.Floats(n, n);
        var (a, b) = (new float[n], new float[n]);
        original.Forward(x, a);
        rebuilt.Forward(x, b);
        Assert.Equal(a, b);
        original.Inverse(x, a);
        rebuilt.Inverse(x, b);
        Assert.Equal(a, b);
    }

    [Fact]
    public void Inconsistent_transform_descriptions_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => HadamardTransform.FromBlock(64, 3, true, default));
        Assert.Throws<ArgumentException>(() => HadamardTransform.FromBlock(96, 3, true, default)); // no Hadamard matrix of order 3
        Assert.Throws<ArgumentException>(() => HadamardTransform.FromBlock(172, 43, false, new float[42 * 43]));
        Assert.Throws<ArgumentException>(() => HadamardTransform.FromBlock(172, 43, false, Enumerable.Repeat(float.NaN, 43 * 43).ToArray()));
        Assert.Throws<ArgumentException>(() => HadamardTransform.FromBlock(64, 1, true, new float[1]));
    }

    private static ModelTokenizer Load(TokenizerPayloadKind kind, string file) =>
        ModelTokenizer.FromPayload(new TokenizerPayload(kind, File.ReadAllBytes(file)), "model.cald");
}
