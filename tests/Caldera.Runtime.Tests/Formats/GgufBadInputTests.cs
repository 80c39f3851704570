using System.Buffers.Binary;
using System.Text;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Tests.Formats;

/// <summary>
/// Corrupt, hostile and unsupported GGUF files: each must fail with a <see cref="ModelFormatException"/> whose
/// message starts with the file's path and names the problem, without crashing, hanging or allocating by
/// an unchecked header value.
/// </summary>
public sealed class GgufBadInputTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_file_truncated_inside_the_tensor_data_is_reported_as_truncated()
    {
        var bytes = TestTensors.TinyGguf().ToBytes();
        var e = Rejected(bytes[..^100], "runs past the end", "truncated");
        Assert.Contains("tensor '", e.Message);
    }

    [Fact]
    public void Every_prefix_of_a_valid_file_fails_cleanly()
    {
        var bytes = TestTensors.TinyGguf().ToBytes();
        int headerEnd = bytes.Length - TestTensors.TinyGguf().Tensors.Sum(t => t.Data.Length);
        string path = _dir.File("prefix.gguf");
        File.WriteAllBytes(path, bytes);
        // Every cut inside the header (each field boundary matters), then every 13th byte through the data;
        // shrinking one file in place is much cheaper than writing a new one per cut.
        for (int n = bytes.Length - 1; n >= 0; n -= n > headerEnd ? 13 : 1)
        {
            using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write)) stream.SetLength(n);
            var e = Assert.Throws<ModelFormatException>(() => ModelCheckpoint.Open(path).Dispose());
            Assert.StartsWith(path + ": ", e.Message);
        }
    }

    [Fact]
    public void Random_byte_corruption_never_escapes_as_another_exception()
    {
        var valid = TestTensors.TinyGguf().ToBytes();
        int headerEnd = valid.Length - TestTensors.TinyGguf().Tensors.Sum(t => t.Data.Length);
        var random = new Random(12345);
        string path = _dir.File("fuzz.gguf");
        File.WriteAllBytes(path, valid);
        for (int trial = 0; trial < 400; trial++)
        {
            var positions = Enumerable.Range(0, random.Next(1, 5)).Select(_ => random.Next(headerEnd)).ToArray();
            Poke(path, positions, _ => (byte)random.Next(256));
            try
            {
                ModelCheckpoint.Open(path).Dispose(); // some corruptions (a token's text) leave a valid model
            }
            catch (ModelFormatException e)
            {
                Assert.StartsWith(path + ": ", e.Message);
            }
            Poke(path, positions, at => valid[at]);
        }

        static void Poke(string path, int[] positions, Func<int, byte> value)
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
            foreach (int at in positions)
            {
                stream.Position = at;
                stream.WriteByte(value(at));
            }
        }
    }

    [Theory]
    [InlineData(1, 8, "tensor count")]
    [InlineData(1, 12, "metadata key/value count")]
    [InlineData(3, 8, "tensor count")]
    [InlineData(3, 16, "metadata key/value count")]
    public void A_hostile_count_fails_fast_without_allocating(int version, int at, string what)
    {
        var bytes = TestTensors.TinyGguf(version).ToBytes();
        ulong hostile = version == 1 ? uint.MaxValue : 1UL << 60; // v1 counts are uint32
        PatchSize(bytes, at, hostile, version);
        Rejected(bytes, what, hostile.ToString(), "remain");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void A_string_claiming_more_bytes_than_the_file_fails_fast(int version)
    {
        var bytes = TestTensors.TinyGguf(version).ToBytes();
        int firstKeyLength = version == 1 ? 16 : 24;
        ulong hostile = version == 1 ? uint.MaxValue : 1UL << 40;
        PatchSize(bytes, firstKeyLength, hostile, version);
        Rejected(bytes, "metadata key 0", $"claims {hostile} bytes");
    }

    [Fact]
    public void An_array_claiming_2_to_the_60_elements_fails_fast()
    {
        var bytes = TestTensors.TinyGguf().ToBytes();
        var key = Encoding.UTF8.GetBytes("tokenizer.ggml.tokens");
        int at = bytes.AsSpan().IndexOf(key) + key.Length + 4 + 4; // after the key: value type, element type, then the count
        PatchSize(bytes, at, 1UL << 60, 3);
        Rejected(bytes, "'tokenizer.ggml.tokens' array length", "1152921504606846976");
    }

    [Fact]
    public void Arrays_nested_without_end_are_rejected_before_the_stack_runs_out()
    {
        object value = new GgufArray(GgufValueType.UInt8, new byte[] { 1 });
        for (int i = 0; i < 50; i++) value = new GgufArray(GgufValueType.Array, new[] { (GgufArray)value });
        Rejected(TestTensors.TinyGguf().Set("evil", GgufValueType.Array, value), "'evil'", "nested deeper");
    }

    [Fact]
    public void A_tensor_offset_past_the_end_of_the_file_is_reported()
    {
        var writer = TestTensors.TinyGguf();
        writer.Tensor(TensorNames.Up(0)).Offset = 1UL << 40;
        Rejected(writer, $"tensor '{TensorNames.Up(0)}'", "runs past the end");
    }

    [Fact]
    public void Overlapping_tensors_are_reported_with_both_names()
    {
        var writer = TestTensors.TinyGguf();
        writer.Tensor(TensorNames.Value(0)).Offset = 0; // lands on token_embd
        Rejected(writer, "overlap", TensorNames.TokenEmbedding, TensorNames.Value(0));
    }

    [Fact]
    public void A_tensor_offset_off_the_alignment_is_reported()
    {
        var writer = TestTensors.TinyGguf();
        writer.Tensor(TensorNames.OutputNorm).Offset = 4096 + 4;
        Rejected(writer, $"tensor '{TensorNames.OutputNorm}'", "not a multiple of the alignment 32");
    }

    [Theory]
    [InlineData(12u, "Q4_K (12)")]
    [InlineData(8u, "Q8_0 (8)")]
    [InlineData(200u, "unknown type 200")]
    public void A_quantized_or_unknown_tensor_type_names_the_tensor_and_suggests_F16(uint ggmlType, string described)
    {
        var writer = TestTensors.TinyGguf();
        int i = writer.Tensors.FindIndex(t => t.Name == TensorNames.Query(0));
        writer.Tensors[i] = writer.Tensors[i] with { GgmlType = ggmlType };
        Rejected(writer, $"tensor '{TensorNames.Query(0)}'", described, "F16 or F32");
    }

    [Fact]
    public void Another_architecture_is_rejected_by_name()
    {
        Rejected(TestTensors.TinyGguf().Set("general.architecture", GgufValueType.String, "qwen2"), "'general.architecture'", "'qwen2' is not supported");
        Rejected(TestTensors.TinyGguf().Remove("general.architecture"), "'general.architecture'", "is missing");
    }

    [Theory]
    [InlineData("llama.block_count")]
    [InlineData("llama.embedding_length")]
    [InlineData("llama.attention.layer_norm_rms_epsilon")]
    public void A_missing_required_key_is_named(string key) => Rejected(TestTensors.TinyGguf().Remove(key), $"'{key}'", "is missing");

    [Fact]
    public void Inconsistent_or_absurd_sizes_name_the_setting()
    {
        Rejected(TestTensors.TinyGguf().Set("llama.attention.head_count", GgufValueType.UInt32, 3u), "'llama.attention.head_count'", "do not divide");
        Rejected(TestTensors.TinyGguf().Set("llama.attention.head_count_kv", GgufValueType.UInt32, 3u), "'llama.attention.head_count_kv'", "do not divide");
        Rejected(TestTensors.TinyGguf().Set("llama.block_count", GgufValueType.Int32, -1), "'llama.block_count'", "out of range");
        Rejected(TestTensors.TinyGguf().Set("llama.context_length", GgufValueType.UInt64, 1UL << 40), "'llama.context_length'", "out of range");
        Rejected(TestTensors.TinyGguf().Set("llama.feed_forward_length", GgufValueType.String, "12"), "'llama.feed_forward_length'", "expected an integer");
        Rejected(TestTensors.TinyGguf().Set("llama.rope.dimension_count", GgufValueType.UInt32, 2u), "'llama.rope.dimension_count'", "partial RoPE");
        Rejected(TestTensors.TinyGguf().Set("llama.expert_count", GgufValueType.UInt32, 8u), "'llama.expert_count'", "mixture-of-experts");
        Rejected(TestTensors.TinyGguf().Set("general.alignment", GgufValueType.UInt32, 24u), "'general.alignment'", "power of two");
    }

    [Fact]
    public void A_missing_or_misshapen_tensor_is_named()
    {
        var missing = TestTensors.TinyGguf();
        missing.Tensors.Remove(missing.Tensor(TensorNames.Up(0)));
        Rejected(missing, $"tensor '{TensorNames.Up(0)}'", "is missing");

        var misshapen = TestTensors.TinyGguf();
        int i = misshapen.Tensors.FindIndex(t => t.Name == TensorNames.Query(0));
        misshapen.Tensors[i] = misshapen.Tensors[i] with { Shape = [16, 4] };
        Rejected(misshapen, $"tensor '{TensorNames.Query(0)}'", "has shape [16, 4] but the config implies [8, 8]");
    }

    [Fact]
    public void A_tensor_that_is_not_part_of_llama_is_rejected()
    {
        var writer = TestTensors.TinyGguf();
        writer.Tensors.Add(new GgufTensorEntry("blk.0.attn_q.bias", [8], GgmlType.F32, new byte[32]));
        Rejected(writer, "tensor 'blk.0.attn_q.bias'", "not part of");
    }

    [Theory]
    [InlineData(float.NaN, "NaN")]
    [InlineData(float.PositiveInfinity, "Infinity")]
    public void A_non_finite_weight_is_reported_with_its_tensor_and_index(float bad, string shown)
    {
        var writer = TestTensors.TinyGguf();
        var down = writer.Tensor(TensorNames.Down(0));
        BinaryPrimitives.WriteSingleLittleEndian(down.Data.AsSpan(4 * 37), bad);
        Rejected(writer, $"tensor '{TensorNames.Down(0)}'", "element 37", shown);
    }

    [Fact]
    public void Unsupported_versions_and_big_endian_files_are_named()
    {
        var bytes = TestTensors.TinyGguf().ToBytes();
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), 4);
        Rejected(bytes, "GGUF version 4 is not supported");
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4), 3);
        Rejected(bytes, "big-endian");
    }

    [Fact]
    public void An_inconsistent_embedded_vocabulary_is_named()
    {
        Rejected(TestTensors.TinyGguf().Set("tokenizer.ggml.scores", GgufValueType.Array, new GgufArray(GgufValueType.Float32, new[] { 0f })),
            "'tokenizer.ggml.scores'", "has 1 entries but tokenizer.ggml.tokens has 8");
        Rejected(TestTensors.TinyGguf().Set("tokenizer.ggml.bos_token_id", GgufValueType.UInt32, 8u), "'tokenizer.ggml.bos_token_id'", "not a token id");
        var tooMany = Enumerable.Range(0, 9).Select(i => $"t{i}").ToArray();
        Rejected(TestTensors.TinyGguf().Set("tokenizer.ggml.tokens", GgufValueType.Array, new GgufArray(GgufValueType.String, tooMany))
            .Remove("tokenizer.ggml.scores"), "'tokenizer.ggml.tokens'", "9 tokens", "only 8 rows");
    }

    [Fact]
    public void A_duplicated_metadata_key_is_reported()
    {
        var writer = TestTensors.TinyGguf();
        writer.Metadata.Add(writer.Metadata[0]);
        Rejected(writer, $"'{writer.Metadata[0].Key}'", "appears twice");
    }

    [Fact]
    public void A_megabyte_long_key_or_tensor_name_is_cut_in_the_message()
    {
        string huge = new('k', 1_000_000);
        var writer = TestTensors.TinyGguf().Set(huge, GgufValueType.UInt32, 1u);
        writer.Metadata.Add(writer.Metadata[^1]);
        var e = Rejected(writer, $"'{huge[..120]}… (1000000 characters)'", "appears twice");
        Assert.True(e.Message.Length < 1000, $"{e.Message.Length} characters");

        writer = TestTensors.TinyGguf();
        writer.Tensors.Add(new GgufTensorEntry(new string('t', 1_000_000), [8], GgmlType.F32, new byte[32]));
        e = Assert.Throws<ModelFormatException>(() => ModelCheckpoint.Open(writer.Write(_dir.File("long-tensor.gguf"))).Dispose());
        Assert.Contains("… (1000000 characters)", e.Message);
        Assert.True(e.Message.Length < 1000, $"{e.Message.Length} characters");
    }

    private ModelFormatException Rejected(GgufWriter writer, params string[] fragments) => Rejected(writer.ToBytes(), fragments);

    private ModelFormatException Rejected(byte[] bytes, params string[] fragments)
    {
        string path = _dir.File($"bad-{Guid.NewGuid():N}.gguf");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<ModelFormatException>(() => ModelCheckpoint.Open(path).Dispose());
        Assert.StartsWith(path + ": ", e.Message);
        foreach (string fragment in fragments) Assert.Contains(fragment, e.Message);
        return e;
    }

    private static void PatchSize(byte[] bytes, int at, ulong value, int version)
    {
        if (version == 1) BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), checked((uint)Math.Min(value, uint.MaxValue)));
        else BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at), value);
    }
}
