using System.Text;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Tests.Formats;

public class GgufReaderTests
{
    [Fact]
    public void V1_stories260K_tensors_are_bit_identical_to_the_llama2c_checkpoint()
    {
        using var bin = ModelCheckpoint.Open(TestModels.Stories260KBin);
        using var gguf = ModelCheckpoint.Open(TestModels.Stories260KGguf);

        Assert.Equal("gguf v1", gguf.Format);
        // The GGUF stores output.weight explicitly (a copy of the embedding), so it is untied; otherwise equal.
        Assert.Equal(bin.Config with { TiedClassifier = false }, gguf.Config);
        Assert.Equal(bin.Tensors.Count + 1, gguf.Tensors.Count);
        foreach (var (name, t) in bin.Tensors)
        {
            var g = gguf.Tensor(name);
            Assert.Equal(t.Shape, g.Shape);
            Assert.Equal(TensorType.F32, g.Type);
            Assert.True(TestTensors.Bytes(t).AsSpan().SequenceEqual(TestTensors.Bytes(g)), name);
        }
        Assert.Equal(TestTensors.Bytes(bin.Tensor(TensorNames.TokenEmbedding)), TestTensors.Bytes(gguf.Tensor(TensorNames.Output)));
    }

    [Fact]
    public void V1_stories260K_embedded_vocabulary_matches_tok512()
    {
        using var gguf = ModelCheckpoint.Open(TestModels.Stories260KGguf);
        var vocabulary = Assert.IsType<Caldera.Runtime.Tokenization.EmbeddedVocabulary>(gguf.Vocabulary);
        var (tokens, scores) = ReadLlama2cTokenizer(TestModels.Shared("stories260K/tok512.bin"));

        Assert.Equal("llama", vocabulary.Model);
        Assert.Equal((1, 2), (vocabulary.BosId, vocabulary.EosId));
        Assert.Equal(scores, vocabulary.Scores);
        // tok512.bin spells BOS/EOS "\n<s>\n"/"\n</s>\n" and writes SentencePiece's ▁ as a space.
        for (int i = 3; i < tokens.Length; i++) Assert.Equal(tokens[i].Replace(' ', '▁'), vocabulary.Tokens[i]);
        Assert.Equal(["<unk>", "<s>", "</s>"], vocabulary.Tokens[..3]);
        Assert.Equal(512, vocabulary.TokenTypes!.Length);
    }

    [Fact]
    public void V3_tiny_random_loads_F16_matrices_an_untied_classifier_and_the_32000_token_vocabulary()
    {
        using var model = ModelCheckpoint.Open(TestModels.TinyRandomGguf);
        var c = model.Config;

        Assert.Equal("gguf v3", model.Format);
        Assert.Equal((8, 32, 1, 2, 2, 4, 32000, 4096), (c.Dim, c.HiddenDim, c.LayerCount, c.HeadCount, c.KvHeadCount, c.HeadDim, c.VocabSize, c.ContextLength));
        Assert.False(c.TiedClassifier);
        Assert.Equal(RopePairing.Interleaved, c.RopePairing);
        Assert.Equal(TensorType.F16, model.Tensor(TensorNames.Query(0)).Type);
        Assert.Equal(TensorType.F16, model.Tensor(TensorNames.Output).Type);
        Assert.Equal(TensorType.F32, model.Tensor(TensorNames.AttentionNorm(0)).Type);
        Assert.Equal([32000L, 8L], model.Tensor(TensorNames.Output).Shape);
        Assert.Equal([8L, 32L], model.Tensor(TensorNames.Down(0)).Shape);

        var v = model.Vocabulary!;
        Assert.Equal(32000, v.Tokens.Length);
        Assert.Equal(32000, v.Scores!.Length);
        Assert.Equal((1, 2, 0), (v.BosId, v.EosId, v.UnknownId));
        Assert.Equal("<0x0A>", v.Tokens[3 + '\n']);
    }

    [Fact]
    public void V3_tinystories_256d_loads_with_the_documented_config()
    {
        using var model = ModelCheckpoint.Open(TestModels.TinyStories256dGguf);
        var c = model.Config;

        Assert.Equal((256, 768, 6, 4, 4, 64, 512, 256), (c.Dim, c.HiddenDim, c.LayerCount, c.HeadCount, c.KvHeadCount, c.HeadDim, c.VocabSize, c.ContextLength));
        Assert.Equal((1e-5f, 10000f), (c.NormEpsilon, c.RopeTheta)); // no rope.freq_base key: the default
        Assert.Null(c.RopeScaling);
        Assert.Equal(57, model.Tensors.Count);
        Assert.All(model.Tensors.Values, t => Assert.Equal(TensorType.F32, t.Type));
        Assert.Equal(5_377_280, model.ParameterCount);
        Assert.Equal(TestTensors.Bytes(model.Tensor(TensorNames.TokenEmbedding)), TestTensors.Bytes(model.Tensor(TensorNames.Output)));
        Assert.Equal(512, model.Vocabulary!.Tokens.Length);
    }

    [Theory]
    [InlineData(1, 32)]
    [InlineData(2, 32)]
    [InlineData(3, 32)]
    [InlineData(3, 4096)]
    public void Every_version_and_alignment_round_trips_the_llama2c_checkpoint_exactly(int version, int alignment)
    {
        using var dir = new TempDirectory();
        using var bin = ModelCheckpoint.Open(TestModels.Stories260KBin);
        var writer = GgufWriter.FromCheckpoint(bin, version);
        writer.Alignment = alignment;
        string path = writer.Write(dir.File("model.gguf"));

        using var gguf = ModelCheckpoint.Open(path);
        Assert.Equal($"gguf v{version}", gguf.Format);
        Assert.Equal(bin.Config, gguf.Config); // no output.weight written, so tied like the .bin
        Assert.Equal(bin.Tensors.Keys.Order(), gguf.Tensors.Keys.Order());
        foreach (var (name, t) in bin.Tensors)
            Assert.True(TestTensors.Bytes(t).AsSpan().SequenceEqual(TestTensors.Bytes(gguf.Tensor(name))), name);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Every_metadata_value_type_round_trips(int version)
    {
        using var dir = new TempDirectory();
        var writer = TestTensors.TinyGguf(version)
            .Set("t.u8", GgufValueType.UInt8, (byte)200)
            .Set("t.i8", GgufValueType.Int8, (sbyte)-100)
            .Set("t.u16", GgufValueType.UInt16, (ushort)60000)
            .Set("t.i16", GgufValueType.Int16, (short)-30000)
            .Set("t.u32", GgufValueType.UInt32, 4_000_000_000u)
            .Set("t.i32", GgufValueType.Int32, -2_000_000_000)
            .Set("t.u64", GgufValueType.UInt64, ulong.MaxValue)
            .Set("t.i64", GgufValueType.Int64, long.MinValue)
            .Set("t.f32", GgufValueType.Float32, 0.1f)
            .Set("t.f64", GgufValueType.Float64, Math.PI)
            .Set("t.bool", GgufValueType.Bool, true)
            .Set("t.string", GgufValueType.String, "grüße ▁")
            .Set("t.ints", GgufValueType.Array, new GgufArray(GgufValueType.Int16, new short[] { -1, 2, -3 }))
            .Set("t.bools", GgufValueType.Array, new GgufArray(GgufValueType.Bool, new[] { true, false }))
            .Set("t.doubles", GgufValueType.Array, new GgufArray(GgufValueType.Float64, new[] { 1.5, -2.25 }))
            .Set("t.nested", GgufValueType.Array, new GgufArray(GgufValueType.Array, new[]
            {
                new GgufArray(GgufValueType.UInt64, new[] { 7UL }),
                new GgufArray(GgufValueType.String, new[] { "x", "" }),
            }));
        using var file = MappedFile.Open(writer.Write(dir.File("m.gguf")));
        var m = GgufFile.Read(file).Metadata;

        Assert.Equal(200, m.Integer("t.u8"));
        Assert.Equal(-100, m.Integer("t.i8"));
        Assert.Equal(60000, m.Integer("t.u16"));
        Assert.Equal(-30000, m.Integer("t.i16"));
        Assert.Equal(4_000_000_000, m.Integer("t.u32"));
        Assert.Equal(-2_000_000_000, m.Int32("t.i32"));
        Assert.Equal(ulong.MaxValue, m.Values["t.u64"].Data);
        Assert.Equal(long.MinValue, m.Integer("t.i64"));
        Assert.Equal(0.1f, (float)m.Real("t.f32")!.Value);
        Assert.Equal(Math.PI, m.Real("t.f64"));
        Assert.Equal(true, m.Values["t.bool"].Data);
        Assert.Equal("grüße ▁", m.String("t.string"));
        Assert.Equal([-1, 2, -3], m.Int32s("t.ints")!);
        Assert.Equal(new[] { true, false }, m.Values["t.bools"].Data);
        Assert.Equal([1.5f, -2.25f], m.Floats("t.doubles")!);
        var nested = Assert.IsType<GgufValue[]>(m.Values["t.nested"].Data);
        Assert.Equal(new[] { 7UL }, nested[0].Data);
        Assert.Equal(["x", ""], (string[])nested[1].Data);
        // A value of the wrong type is reported with its key, not defaulted.
        var e = Assert.Throws<ModelFormatException>(() => m.Int32("t.string"));
        Assert.Contains("'t.string'", e.Message);
        Assert.Throws<ModelFormatException>(() => m.Int32("t.u32")); // 4e9 does not fit an int32 setting
    }

    [Fact]
    public void Defaults_apply_when_optional_llama_keys_are_absent()
    {
        using var dir = new TempDirectory();
        // The tiny model has no rope.freq_base, key_length or unknown_token_id. With head_count_kv removed too,
        // the KV head count must default to head_count (2), so K/V need two heads' worth of rows.
        var writer = TestTensors.TinyGguf().Remove("llama.attention.head_count_kv");
        foreach (var t in writer.Tensors.Where(t => t.Name.Contains("attn_k") || t.Name.Contains("attn_v")).ToList())
            writer.Tensors[writer.Tensors.IndexOf(t)] = t with { Shape = [8, 8], Data = TestTensors.F32Bytes(TestTensors.Random(64, 9)) };

        using var model = ModelCheckpoint.Open(writer.Write(dir.File("m.gguf")));
        Assert.Equal((2, 2, 4, 10000f), (model.Config.HeadCount, model.Config.KvHeadCount, model.Config.HeadDim, model.Config.RopeTheta));
        Assert.True(model.Config.TiedClassifier);
        Assert.Equal(8, model.Vocabulary!.Tokens.Length);
        Assert.Equal((1, 2, 0), (model.Vocabulary.BosId, model.Vocabulary.EosId, model.Vocabulary.UnknownId)); // SentencePiece defaults
    }

    /// <summary>llama2.c's tokenizer.bin: int32 max length, then per token float32 score, int32 length, bytes.</summary>
    private static (string[] Tokens, float[] Scores) ReadLlama2cTokenizer(string path)
    {
        using var reader = new BinaryReader(File.OpenRead(path));
        reader.ReadInt32();
        var tokens = new string[512];
        var scores = new float[512];
        for (int i = 0; i < 512; i++)
        {
            scores[i] = reader.ReadSingle();
            tokens[i] = Encoding.UTF8.GetString(reader.ReadBytes(reader.ReadInt32()));
        }
        return (tokens, scores);
    }
}
