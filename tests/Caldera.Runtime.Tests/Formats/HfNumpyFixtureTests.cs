using Caldera.Runtime.Model;

namespace Caldera.Runtime.Tests.Formats;

/// <summary>
/// The Hugging Face reader against a checkpoint that another implementation wrote: Formats/Fixtures/numpy-llama, made
/// with numpy alone from the safetensors specification by scripts/make-numpy-safetensors.py (committed, so CI needs no
/// Python). Every value is a formula of the tensor's position in the file and the element's index, recomputed here;
/// dtypes are mixed (F32 norms and embedding, BF16 layer 0 and classifier, F16 layer 1).
/// </summary>
public sealed class HfNumpyFixtureTests
{
    private static string Fixture => Path.Combine(AppContext.BaseDirectory, "Formats", "Fixtures", "numpy-llama");

    /// <summary>(transformers' name, the canonical name the reader gives it, shape, dtype) in the script's order.</summary>
    private static IEnumerable<(string Hf, string Canonical, long[] Shape, TensorType Type)> Tensors()
    {
        const int dim = 16, hidden = 40, vocab = 32, qRows = 16, kvRows = 8;
        yield return ("model.embed_tokens.weight", "token_embd.weight", [vocab, dim], TensorType.F32);
        for (int layer = 0; layer < 2; layer++)
        {
            var type = layer == 0 ? TensorType.BF16 : TensorType.F16;
            string b = $"blk.{layer}.";
            yield return ("input_layernorm", b + "attn_norm.weight", [dim], TensorType.F32);
            yield return ("q_proj", b + "attn_q.weight", [qRows, dim], type);
            yield return ("k_proj", b + "attn_k.weight", [kvRows, dim], type);
            yield return ("v_proj", b + "attn_v.weight", [kvRows, dim], type);
            yield return ("o_proj", b + "attn_output.weight", [dim, qRows], type);
            yield return ("post_attention_layernorm", b + "ffn_norm.weight", [dim], TensorType.F32);
            yield return ("gate_proj", b + "ffn_gate.weight", [hidden, dim], type);
            yield return ("up_proj", b + "ffn_up.weight", [hidden, dim], type);
            yield return ("down_proj", b + "ffn_down.weight", [dim, hidden], type);
        }
        yield return ("model.norm.weight", "output_norm.weight", [dim], TensorType.F32);
        yield return ("lm_head.weight", "output.weight", [vocab, dim], TensorType.BF16);
    }

    [Fact]
    public void The_config_is_read_as_the_script_wrote_it()
    {
        using var model = ModelCheckpoint.Open(Fixture);
        var c = model.Config;
        Assert.Equal((16, 40, 2, 4, 2, 32, 64, 4), (c.Dim, c.HiddenDim, c.LayerCount, c.HeadCount, c.KvHeadCount, c.VocabSize, c.ContextLength, c.HeadDim));
        Assert.Equal(RopePairing.RotateHalf, c.RopePairing);
        Assert.False(c.TiedClassifier);
    }

    [Fact]
    public void Every_tensor_holds_the_values_numpy_wrote_in_its_dtype()
    {
        using var model = ModelCheckpoint.Open(Fixture);
        int index = 0, checkedTensors = 0;
        foreach (var (hf, canonical, shape, type) in Tensors())
        {
            var tensor = model.Tensor(canonical);
            Assert.Equal(shape, tensor.Shape);
            Assert.Equal(type, tensor.Type);
            float[] actual = tensor.ToArray();
            for (int i = 0; i < actual.Length; i++)
            {
                float expected = Stored((float)(Math.Sin(0.37 * i + 1.3 * index) / 2), type);
                if (BitConverter.SingleToInt32Bits(expected) != BitConverter.SingleToInt32Bits(actual[i]))
                    Assert.Fail($"{hf} ({canonical}) element {i}: read {actual[i]}, numpy wrote {expected}");
            }
            index++;
            checkedTensors++;
        }
        Assert.Equal(21, checkedTensors);
    }

    /// <summary>The float a value becomes once stored as <paramref name="type"/> (both conversions round to nearest even, as numpy's do).</summary>
    private static float Stored(float value, TensorType type) => type switch
    {
        TensorType.F32 => value,
        TensorType.F16 => (float)(Half)value,
        _ => BitConverter.Int32BitsToSingle((int)(((uint)BitConverter.SingleToInt32Bits(value) + 0x7FFFu + ((uint)BitConverter.SingleToInt32Bits(value) >> 16 & 1)) & 0xFFFF0000u)),
    };
}
