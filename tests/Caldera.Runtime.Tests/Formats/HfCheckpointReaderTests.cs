using System.Text.Json.Nodes;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Tests.Formats;

public sealed class HfCheckpointReaderTests : IDisposable
{
    /// <summary>bf16 keeps 8 significant bits: round-to-nearest is off by at most half an ulp, 2^-8 of the value.</summary>
    private const float BFloat16RelativeError = 1f / 256;

    /// <summary>f16 keeps 11 significant bits: half an ulp is 2^-11 of a normal value…</summary>
    private const float HalfRelativeError = 1f / 2048;

    /// <summary>…and half the subnormal spacing 2^-24 below 2^-14, where the relative bound no longer holds.</summary>
    private const float HalfSubnormalError = 1f / (1 << 25);

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void F32_directory_matches_the_llama2c_checkpoint_exactly_after_undoing_the_rotate_half_permutation()
    {
        using var source = ModelCheckpoint.Open(TestModels.Stories260KBin);
        HfCheckpointWriter.Write(source, _dir.Path, TensorType.F32);

        using var hf = ModelCheckpoint.Open(_dir.Path);
        Assert.Equal("safetensors", hf.Format);
        Assert.Equal(source.Config with { RopePairing = RopePairing.RotateHalf }, hf.Config);
        AssertSameWeights(source, hf, (expected, actual, _) => Assert.Equal(expected, actual));
    }

    [Fact]
    public void BF16_directory_matches_within_bf16_rounding()
    {
        using var source = ModelCheckpoint.Open(TestModels.Stories260KBin);
        HfCheckpointWriter.Write(source, _dir.Path, TensorType.BF16);

        using var hf = ModelCheckpoint.Open(_dir.Path);
        Assert.Equal(source.Config with { RopePairing = RopePairing.RotateHalf }, hf.Config);
        Assert.All(hf.Tensors.Values, t => Assert.Equal(TensorType.BF16, t.Type));
        AssertSameWeights(source, hf, (expected, actual, name) =>
            AssertWithin(expected, actual, name, x => Math.Abs(x) * BFloat16RelativeError));
    }

    [Fact]
    public void F16_two_shard_directory_with_an_index_matches_within_f16_rounding()
    {
        using var source = ModelCheckpoint.Open(TestModels.Stories260KBin);
        HfCheckpointWriter.Write(source, _dir.Path, TensorType.F16, shards: 2);
        Assert.True(File.Exists(_dir.File("model-00002-of-00002.safetensors")));
        Assert.False(File.Exists(_dir.File("model.safetensors")));

        using var hf = ModelCheckpoint.Open(_dir.Path);
        Assert.Equal("safetensors (2 shards)", hf.Format);
        Assert.Equal(source.Config with { RopePairing = RopePairing.RotateHalf }, hf.Config);
        Assert.All(hf.Tensors.Values, t => Assert.Equal(TensorType.F16, t.Type));
        AssertSameWeights(source, hf, (expected, actual, name) =>
            AssertWithin(expected, actual, name, x => Math.Max(Math.Abs(x) * HalfRelativeError, HalfSubnormalError)));
    }

    [Fact]
    public void An_untied_model_keeps_lm_head_as_the_output_matrix()
    {
        using var source = ModelCheckpoint.Open(TestModels.TinyRandomGguf); // F16, untied, 32000-token vocabulary
        HfCheckpointWriter.Write(source, _dir.Path, TensorType.F32);

        using var hf = ModelCheckpoint.Open(_dir.Path);
        Assert.False(hf.Config.TiedClassifier);
        Assert.Equal(source.Tensor(TensorNames.Output).ToArray(), hf.Tensor(TensorNames.Output).ToArray());
        AssertSameWeights(source, hf, (expected, actual, _) => Assert.Equal(expected, actual));
    }

    [Fact]
    public void A_tied_model_that_still_stores_lm_head_uses_the_embedding()
    {
        using var source = ModelCheckpoint.Open(TestModels.TinyRandomGguf);
        HfCheckpointWriter.Write(source, _dir.Path, TensorType.F32);
        HfCheckpointWriter.EditConfig(_dir.Path, c => c["tie_word_embeddings"] = true);

        using var hf = ModelCheckpoint.Open(_dir.Path);
        Assert.True(hf.Config.TiedClassifier);
        Assert.False(hf.Tensors.ContainsKey(TensorNames.Output));
    }

    [Fact]
    public void Optional_config_settings_take_their_transformers_defaults_and_llama3_rope_scaling_is_read()
    {
        using var source = ModelCheckpoint.Open(TestModels.TinyRandomGguf);
        HfCheckpointWriter.Write(source, _dir.Path, TensorType.F32);
        HfCheckpointWriter.EditConfig(_dir.Path, c =>
        {
            foreach (var key in new[] { "num_key_value_heads", "head_dim", "rope_theta", "tie_word_embeddings", "architectures" }) c.Remove(key);
            c["rope_scaling"] = new JsonObject
            {
                ["rope_type"] = "llama3", ["factor"] = 8.0, ["low_freq_factor"] = 1.0, ["high_freq_factor"] = 4.0,
                ["original_max_position_embeddings"] = 8192,
            };
        });

        using var hf = ModelCheckpoint.Open(_dir.Path);
        var c = hf.Config;
        Assert.Equal((2, 4, 10000f, false), (c.KvHeadCount, c.HeadDim, c.RopeTheta, c.TiedClassifier));
        Assert.Equal(new RopeScaling(8, 1, 4, 8192), c.RopeScaling);

        HfCheckpointWriter.EditConfig(_dir.Path, c => c["rope_scaling"] = new JsonObject { ["type"] = "default" });
        using var unscaled = ModelCheckpoint.Open(_dir.Path);
        Assert.Null(unscaled.Config.RopeScaling);
    }

    [Fact]
    public void The_writer_permutes_rows_as_transformers_view_transpose_reshape_does()
    {
        // transformers: w.view(heads, hd/2, 2, dim).transpose(1, 2).reshape(heads*hd, dim). For hd = 8, head 1:
        // stored rows 8..15 come from rows 8, 10, 12, 14, 9, 11, 13, 15.
        int[] rows = Enumerable.Range(8, 8).Select(r => HfCheckpointWriter.InterleavedRow(r, 8)).ToArray();
        Assert.Equal([8, 10, 12, 14, 9, 11, 13, 15], rows);
    }

    private static void AssertWithin(float[] expected, float[] actual, string name, Func<float, float> tolerance)
    {
        for (int i = 0; i < expected.Length; i++)
            if (Math.Abs(expected[i] - actual[i]) > tolerance(expected[i]))
                Assert.Fail($"{name}[{i}]: {actual[i]} is further than {tolerance(expected[i])} from {expected[i]}");
    }

    /// <summary>
    /// Compares every tensor of <paramref name="hf"/> with <paramref name="source"/> as F32, undoing the q/k row
    /// permutation: HF row r of attn_q/attn_k holds source row <see cref="HfCheckpointWriter.InterleavedRow"/>(r).
    /// </summary>
    private static void AssertSameWeights(ModelCheckpoint source, ModelCheckpoint hf, Action<float[], float[], string> compare)
    {
        Assert.Equal(source.Tensors.Keys.Order(), hf.Tensors.Keys.Order());
        int headDim = source.Config.HeadDim;
        foreach (var (name, t) in source.Tensors)
        {
            var h = hf.Tensor(name);
            Assert.Equal(t.Shape, h.Shape);
            float[] expected = t.ToArray(), actual = h.ToArray();
            if (name.Contains(".attn_q.") || name.Contains(".attn_k."))
            {
                var unpermuted = new float[actual.Length];
                for (int r = 0; r < t.Rows; r++)
                    Array.Copy(actual, r * t.Columns, unpermuted, HfCheckpointWriter.InterleavedRow(r, headDim) * t.Columns, t.Columns);
                actual = unpermuted;
            }
            compare(expected, actual, name);
        }
    }
}
