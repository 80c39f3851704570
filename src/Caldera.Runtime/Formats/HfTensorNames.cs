using System.Globalization;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Formats;

/// <summary>
/// Hugging Face transformers' <c>LlamaForCausalLM</c> parameter names and their canonical
/// <see cref="TensorNames"/> equivalents. The matrices are stored the same way ([out, in]) in both.
/// </summary>
internal static class HfTensorNames
{
    private const string LayerPrefix = "model.layers.";
    private const string Weight = ".weight";

    private static readonly (string Hf, string Canonical)[] Global =
    [
        ("model.embed_tokens.weight", TensorNames.TokenEmbedding),
        ("model.norm.weight", TensorNames.OutputNorm),
        ("lm_head.weight", TensorNames.Output),
    ];

    /// <summary>Per-layer module paths (after <c>model.layers.N.</c>) and GGUF's block tensor kinds.</summary>
    private static readonly (string Hf, string Canonical)[] PerLayer =
    [
        ("input_layernorm", "attn_norm"),
        ("self_attn.q_proj", "attn_q"),
        ("self_attn.k_proj", "attn_k"),
        ("self_attn.v_proj", "attn_v"),
        ("self_attn.o_proj", "attn_output"),
        ("post_attention_layernorm", "ffn_norm"),
        ("mlp.gate_proj", "ffn_gate"),
        ("mlp.down_proj", "ffn_down"),
        ("mlp.up_proj", "ffn_up"),
    ];

    /// <summary>The canonical name of a transformers parameter, or null when Llama has no such tensor.</summary>
    public static string? ToCanonical(string hfName)
    {
        foreach (var (hf, canonical) in Global)
            if (hfName == hf) return canonical;
        if (!hfName.StartsWith(LayerPrefix, StringComparison.Ordinal) || !hfName.EndsWith(Weight, StringComparison.Ordinal))
            return null;
        string rest = hfName[LayerPrefix.Length..^Weight.Length];
        int dot = rest.IndexOf('.');
        if (dot <= 0 || !int.TryParse(rest.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out int layer))
            return null;
        string module = rest[(dot + 1)..];
        foreach (var (hf, kind) in PerLayer)
            if (module == hf) return $"blk.{layer}.{kind}.weight";
        return null;
    }

    /// <summary>The transformers name of a canonical tensor name (the inverse of <see cref="ToCanonical"/>).</summary>
    public static string ToStored(string canonical)
    {
        foreach (var (hf, c) in Global)
            if (canonical == c) return hf;
        if (canonical.Split('.') is ["blk", var layer, var kind, "weight"])
            foreach (var (hf, k) in PerLayer)
                if (kind == k) return $"{LayerPrefix}{layer}.{hf}{Weight}";
        return canonical;
    }

    /// <summary>
    /// Buffers transformers keeps in some older checkpoints that carry no weights (RoPE's inverse
    /// frequencies are recomputed from rope_theta).
    /// </summary>
    public static bool IsIgnorable(string hfName) => hfName.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal);
}
