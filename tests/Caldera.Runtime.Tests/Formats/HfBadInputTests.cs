using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Tests.Formats;

/// <summary>
/// Corrupt safetensors, bad config.json and inconsistent shard indexes: each must fail with a
/// <see cref="ModelFormatException"/> naming the file, the tensor or setting, and the problem.
/// </summary>
public sealed class HfBadInputTests : IDisposable
{
    private const string Embed = "model.embed_tokens.weight";
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Weights => _dir.File("model.safetensors");
    private string Config => _dir.File("config.json");
    private string Index => _dir.File("model.safetensors.index.json");

    /// <summary>stories260K as a valid single-file F32 directory, to be broken by each test.</summary>
    private void WriteStories(int shards = 1)
    {
        using var source = ModelCheckpoint.Open(TestModels.Stories260KBin);
        HfCheckpointWriter.Write(source, _dir.Path, TensorType.F32, shards);
    }

    /// <summary>A valid config beside a hand-written model.safetensors (errors in the header come before tensor names matter).</summary>
    private void WriteHeader(string json, byte[] data, ulong? headerLength = null)
    {
        WriteStories();
        SafetensorsWriter.WriteRaw(Weights, json, data, headerLength);
    }

    [Fact]
    public void A_header_length_past_the_end_of_the_file_is_reported()
    {
        WriteHeader("{}", new byte[16], headerLength: 1UL << 40);
        Rejected(Weights, "header length 1099511627776 runs past the end");
    }

    [Fact]
    public void A_file_too_short_for_the_header_length_is_reported()
    {
        WriteStories();
        File.WriteAllBytes(Weights, [1, 2, 3]);
        Rejected(Weights, "too short", "truncated");
    }

    [Theory]
    [InlineData("{\"a\": {\"dtype\": \"F32\",", "is not valid JSON")]
    [InlineData("[1, 2]", "expected an object")]
    [InlineData("{\"model.norm.weight\": 5}", "tensor 'model.norm.weight'")]
    [InlineData("{\"model.norm.weight\": {\"dtype\": \"F32\", \"shape\": [4]}}", "data_offsets")]
    [InlineData("{\"model.norm.weight\": {\"dtype\": \"F32\", \"shape\": [-4], \"data_offsets\": [0, 16]}}", "non-negative")]
    public void A_malformed_header_is_reported(string json, string problem)
    {
        WriteHeader(json, new byte[16]);
        Rejected(Weights, problem);
    }

    [Fact]
    public void A_file_truncated_inside_the_data_is_reported()
    {
        WriteStories();
        var bytes = File.ReadAllBytes(Weights);
        File.WriteAllBytes(Weights, bytes[..^100]);
        Rejected(Weights, "lie outside", "truncated");
    }

    [Fact]
    public void Overlapping_tensors_are_reported_with_both_names()
    {
        WriteHeader("""
            {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
             "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}
            """, new byte[24]);
        Rejected(Weights, "tensor 'b'", "overlap tensor 'a'");
    }

    [Fact]
    public void Offsets_outside_the_data_section_are_reported()
    {
        WriteHeader("""{"a": {"dtype": "F32", "shape": [250], "data_offsets": [0, 1000]}}""", new byte[16]);
        Rejected(Weights, "tensor 'a'", "data_offsets [0, 1000] lie outside the 16-byte data section");
    }

    [Fact]
    public void A_shape_whose_byte_count_does_not_match_its_offsets_is_reported()
    {
        WriteHeader("""{"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}}""", new byte[16]);
        Rejected(Weights, "tensor 'a'", "shape [2, 2] of F32 needs 16 bytes but data_offsets [0, 12] span 12");
    }

    [Fact]
    public void A_hostile_shape_cannot_overflow_into_a_small_size()
    {
        // 2^32 · 2^32 · 4 bytes wraps to 0 in 64 bits; the reader must not be fooled into accepting [0, 0).
        WriteHeader("""{"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}}""", new byte[16]);
        Rejected(Weights, "tensor 'a'", "needs more bytes than");
    }

    [Theory]
    [InlineData("F64")]
    [InlineData("I8")]
    [InlineData("F8_E4M3")]
    public void An_unsupported_dtype_names_the_tensor_and_the_fix(string dtype)
    {
        WriteHeader($$"""{"{{Embed}}": {"dtype": "{{dtype}}", "shape": [2], "data_offsets": [0, 16]} }""", new byte[16]);
        Rejected(Weights, $"tensor '{Embed}'", $"dtype '{dtype}' is not supported", "F32, F16 and BF16");
    }

    [Fact]
    public void A_missing_tensor_is_named_in_transformers_terms()
    {
        WriteStories();
        HfCheckpointWriter.EditConfig(_dir.Path, c => c["tie_word_embeddings"] = false);
        Rejected(_dir.Path, "tensor 'lm_head.weight'", "is missing");
        HfCheckpointWriter.EditConfig(_dir.Path, c => { c["tie_word_embeddings"] = true; c["num_hidden_layers"] = 6; });
        Rejected(_dir.Path, "tensor 'model.layers.5.input_layernorm.weight'", "is missing");
    }

    [Fact]
    public void A_tensor_that_does_not_belong_to_the_config_is_named()
    {
        WriteStories();
        HfCheckpointWriter.EditConfig(_dir.Path, c => c["num_hidden_layers"] = 4);
        Rejected(Weights, "tensor 'model.layers.4.", "not part of a 4-layer LlamaForCausalLM");
    }

    [Fact]
    public void A_NaN_weight_is_named_in_transformers_terms()
    {
        WriteStories();
        var bytes = File.ReadAllBytes(Weights);
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(bytes.Length - 4), float.NaN); // the last element of model.norm.weight
        File.WriteAllBytes(Weights, bytes);
        Rejected(_dir.Path, "tensor 'model.norm.weight'", "element 63 is NaN");
    }

    [Theory]
    [InlineData("num_attention_heads", "7", "do not divide hidden_size 64")]
    [InlineData("num_key_value_heads", "3", "3 KV heads do not divide 8 query heads")]
    [InlineData("num_hidden_layers", "-1", "out of range")]
    [InlineData("intermediate_size", "0", "out of range")]
    [InlineData("hidden_size", "1e12", "not an integer in the int32 range")]
    [InlineData("vocab_size", "\"512\"", "expected an integer")]
    [InlineData("rms_norm_eps", "2", "not in (0, 1)")]
    [InlineData("architectures", "[\"MistralForCausalLM\"]", "is not supported")]
    [InlineData("hidden_act", "\"gelu\"", "'gelu' is not supported")]
    [InlineData("attention_bias", "true", "no bias")]
    [InlineData("rope_scaling", "{\"rope_type\": \"yarn\", \"factor\": 4}", "'yarn' is not supported")]
    [InlineData("rope_scaling", "{\"rope_type\": \"llama3\", \"factor\": 8}", "is missing")]
    [InlineData("rope_scaling", "{\"rope_type\": \"llama3\", \"factor\": 8, \"low_freq_factor\": 4, \"high_freq_factor\": 1, \"original_max_position_embeddings\": 8192}", "low_freq_factor < high_freq_factor")]
    public void A_bad_config_setting_is_named(string setting, string json, string problem)
    {
        WriteStories();
        HfCheckpointWriter.EditConfig(_dir.Path, c =>
        {
            c.Remove("head_dim"); // so that the head count alone decides the head width
            c[setting] = JsonNode.Parse(json);
        });
        var e = Rejected(Config, problem);
        Assert.Contains($"'{setting}", e.Message);
    }

    [Fact]
    public void A_missing_required_setting_and_invalid_config_json_are_reported()
    {
        WriteStories();
        HfCheckpointWriter.EditConfig(_dir.Path, c => c.Remove("vocab_size"));
        Rejected(Config, "'vocab_size'", "is missing");
        File.WriteAllText(Config, "{\"hidden_size\": 64,");
        Rejected(Config, "is not valid JSON");
    }

    [Fact]
    public void A_directory_without_config_or_weights_is_explained()
    {
        Rejected(_dir.Path, "has no config.json");
        WriteStories();
        File.Delete(Weights);
        Rejected(_dir.Path, "neither model.safetensors nor model.safetensors.index.json");
    }

    [Fact]
    public void A_single_safetensors_file_is_redirected_to_its_directory()
    {
        WriteStories();
        var e = Assert.Throws<ModelFormatException>(() => ModelCheckpoint.Open(Weights).Dispose());
        Assert.StartsWith(Weights + ": ", e.Message);
        Assert.Contains("pass the directory", e.Message);
    }

    [Fact]
    public void An_index_naming_a_missing_shard_is_reported()
    {
        WriteStories(shards: 2);
        File.Delete(_dir.File("model-00002-of-00002.safetensors"));
        Rejected(Index, "'weight_map'", "names shard 'model-00002-of-00002.safetensors', which is not in");
    }

    [Fact]
    public void An_index_that_disagrees_with_its_shards_is_reported()
    {
        WriteStories(shards: 2);
        EditIndex(map => map[Embed] = "model-00002-of-00002.safetensors");
        Rejected(_dir.File("model-00001-of-00002.safetensors"), $"tensor '{Embed}'", "places it in 'model-00002-of-00002.safetensors'");

        WriteStories(shards: 2);
        EditIndex(map => map["model.layers.9.mlp.up_proj.weight"] = "model-00001-of-00002.safetensors");
        Rejected(Index, "tensor 'model.layers.9.mlp.up_proj.weight'", "that shard does not contain it");
    }

    [Theory]
    [InlineData("../model-00001-of-00002.safetensors")]
    [InlineData("/etc/passwd")]
    [InlineData("model.bin")]
    public void An_index_cannot_point_outside_the_model_directory(string shard)
    {
        WriteStories(shards: 2);
        EditIndex(map => map[Embed] = shard);
        Rejected(Index, $"tensor '{Embed}'", "not a .safetensors file name in the model directory");
    }

    [Fact]
    public void An_index_without_a_weight_map_is_reported()
    {
        WriteStories(shards: 2);
        File.WriteAllText(Index, """{"metadata": {}}""");
        Rejected(Index, "'weight_map'", "is missing");
    }

    private void EditIndex(Action<JsonObject> edit)
    {
        var index = JsonNode.Parse(File.ReadAllText(Index))!.AsObject();
        edit(index["weight_map"]!.AsObject());
        File.WriteAllText(Index, index.ToJsonString());
    }

    /// <summary>Opens the directory and checks the error starts with <paramref name="culprit"/> (the file at fault) and names each fragment.</summary>
    private ModelFormatException Rejected(string culprit, params string[] fragments)
    {
        var e = Assert.Throws<ModelFormatException>(() => ModelCheckpoint.Open(_dir.Path).Dispose());
        Assert.StartsWith(culprit + ": ", e.Message);
        foreach (string fragment in fragments) Assert.Contains(fragment, e.Message);
        return e;
    }
}
