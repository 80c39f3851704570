using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Caldera.Runtime.Model;

namespace Caldera.Tests;

/// <summary>
/// Test helper (not product code): writes a <see cref="ModelCheckpoint"/> as a Hugging Face
/// <c>LlamaForCausalLM</c> directory (config.json + safetensors, optionally sharded with
/// <c>model.safetensors.index.json</c>), the way transformers' Llama conversion script does, including
/// its q/k row permutation. Tests (and the forward-pass equivalence tests) load the result back with
/// <see cref="ModelCheckpoint.Open"/> and compare it with the source.
/// </summary>
internal static class HfCheckpointWriter
{
    /// <summary>
    /// Writes <paramref name="source"/> (which must use interleaved RoPE pairs, as llama2.c and GGUF do) into
    /// <paramref name="directory"/> with every tensor stored as <paramref name="dtype"/> (BF16 rounds to
    /// nearest even, F16 as <see cref="Half"/> does), split into <paramref name="shards"/> files.
    /// </summary>
    public static void Write(ModelCheckpoint source, string directory, TensorType dtype, int shards = 1)
    {
        var c = source.Config;
        if (c.RopePairing != RopePairing.Interleaved)
            throw new ArgumentException("the source must store q/k rows in interleaved (Meta) order", nameof(source));
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        Directory.CreateDirectory(directory);
        WriteConfig(c, Path.Combine(directory, "config.json"), dtype);

        var entries = new List<SafetensorsEntry>();
        foreach (var (name, _) in TensorNames.Expected(c))
        {
            var t = source.Tensor(name);
            float[] values = t.ToArray();
            if (name.Contains(".attn_q.")) values = PermuteToRotateHalf(values, c.HeadCount, c.HeadDim, c.Dim);
            if (name.Contains(".attn_k.")) values = PermuteToRotateHalf(values, c.KvHeadCount, c.HeadDim, c.Dim);
            entries.Add(new SafetensorsEntry(HfName(name), dtype, t.Shape, Encode(values, dtype)));
        }

        if (shards == 1)
        {
            SafetensorsWriter.Write(Path.Combine(directory, "model.safetensors"), entries, new Dictionary<string, string> { ["format"] = "pt" });
            return;
        }
        var weightMap = new JsonObject();
        int perShard = (entries.Count + shards - 1) / shards;
        for (int s = 0; s < shards; s++)
        {
            string file = $"model-{s + 1:00000}-of-{shards:00000}.safetensors";
            var part = entries.Skip(s * perShard).Take(perShard).ToList();
            SafetensorsWriter.Write(Path.Combine(directory, file), part, new Dictionary<string, string> { ["format"] = "pt" });
            foreach (var e in part) weightMap[e.Name] = file;
        }
        var index = new JsonObject
        {
            ["metadata"] = new JsonObject { ["total_size"] = entries.Sum(e => (long)e.Data.Length) },
            ["weight_map"] = weightMap,
        };
        File.WriteAllText(Path.Combine(directory, "model.safetensors.index.json"), index.ToJsonString());
    }

    /// <summary>Rewrites the directory's config.json through <paramref name="edit"/> (for bad-config tests).</summary>
    public static void EditConfig(string directory, Action<JsonObject> edit)
    {
        string path = Path.Combine(directory, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(config);
        File.WriteAllText(path, config.ToJsonString());
    }

    /// <summary>
    /// The row of the interleaved (Meta) matrix that transformers stores at row <paramref name="row"/>:
    /// within each head, new row j &lt; hd/2 holds old row 2j and j ≥ hd/2 holds old row 2(j − hd/2) + 1
    /// (<c>w.view(heads, hd/2, 2, dim).transpose(1, 2).reshape(heads·hd, dim)</c>).
    /// </summary>
    public static int InterleavedRow(int row, int headDim)
    {
        int head = row / headDim, j = row % headDim, half = headDim / 2;
        return head * headDim + (j < half ? 2 * j : 2 * (j - half) + 1);
    }

    /// <summary>Rounds to bfloat16, nearest even (what torch's <c>.to(torch.bfloat16)</c> does).</summary>
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40); // keep it a (quiet) NaN
        uint roundingBias = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + roundingBias) >> 16);
    }

    public static byte[] Encode(ReadOnlySpan<float> values, TensorType dtype)
    {
        switch (dtype)
        {
            case TensorType.F32:
                return MemoryMarshal.AsBytes(values).ToArray();
            case TensorType.F16:
                var halves = new Half[values.Length];
                for (int i = 0; i < values.Length; i++) halves[i] = (Half)values[i];
                return MemoryMarshal.AsBytes(halves.AsSpan()).ToArray();
            case TensorType.BF16:
                var bf16 = new ushort[values.Length];
                for (int i = 0; i < values.Length; i++) bf16[i] = ToBFloat16(values[i]);
                return MemoryMarshal.AsBytes(bf16.AsSpan()).ToArray();
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype));
        }
    }

    /// <summary>transformers' parameter name for a canonical tensor name (written here independently of the reader's table).</summary>
    public static string HfName(string canonical)
    {
        switch (canonical)
        {
            case TensorNames.TokenEmbedding: return "model.embed_tokens.weight";
            case TensorNames.OutputNorm: return "model.norm.weight";
            case TensorNames.Output: return "lm_head.weight";
        }
        var parts = canonical.Split('.'); // blk.N.kind.weight
        string module = parts[2] switch
        {
            "attn_norm" => "input_layernorm",
            "attn_q" => "self_attn.q_proj",
            "attn_k" => "self_attn.k_proj",
            "attn_v" => "self_attn.v_proj",
            "attn_output" => "self_attn.o_proj",
            "ffn_norm" => "post_attention_layernorm",
            "ffn_gate" => "mlp.gate_proj",
            "ffn_up" => "mlp.up_proj",
            "ffn_down" => "mlp.down_proj",
            _ => throw new ArgumentException(canonical),
        };
        return $"model.layers.{parts[1]}.{module}.weight";
    }

    private static float[] PermuteToRotateHalf(float[] w, int heads, int headDim, int columns)
    {
        var result = new float[w.Length];
        for (int row = 0; row < heads * headDim; row++)
            Array.Copy(w, (long)InterleavedRow(row, headDim) * columns, result, (long)row * columns, columns);
        return result;
    }

    private static void WriteConfig(LlamaConfig c, string path, TensorType dtype)
    {
        var config = new JsonObject
        {
            ["architectures"] = new JsonArray("LlamaForCausalLM"),
            ["model_type"] = "llama",
            ["hidden_act"] = "silu",
            ["hidden_size"] = c.Dim,
            ["intermediate_size"] = c.HiddenDim,
            ["num_hidden_layers"] = c.LayerCount,
            ["num_attention_heads"] = c.HeadCount,
            ["num_key_value_heads"] = c.KvHeadCount,
            ["head_dim"] = c.HeadDim,
            ["vocab_size"] = c.VocabSize,
            ["max_position_embeddings"] = c.ContextLength,
            ["rms_norm_eps"] = c.NormEpsilon,
            ["rope_theta"] = c.RopeTheta,
            ["rope_scaling"] = c.RopeScaling is { } s
                ? new JsonObject
                {
                    ["rope_type"] = "llama3",
                    ["factor"] = s.Factor,
                    ["low_freq_factor"] = s.LowFrequencyFactor,
                    ["high_freq_factor"] = s.HighFrequencyFactor,
                    ["original_max_position_embeddings"] = s.OriginalContextLength,
                }
                : null,
            ["tie_word_embeddings"] = c.TiedClassifier,
            ["attention_bias"] = false,
            ["torch_dtype"] = dtype switch { TensorType.F32 => "float32", TensorType.F16 => "float16", _ => "bfloat16" },
        };
        File.WriteAllText(path, config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
