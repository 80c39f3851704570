using Caldera.Runtime.Model;

namespace Caldera.Runtime.Formats;

/// <summary>
/// Reads a transformers <c>LlamaForCausalLM</c> <c>config.json</c> into a <see cref="LlamaConfig"/>.
/// Settings that would change the computation but that Caldera does not implement (biases, another
/// activation, an unknown RoPE scaling) are errors rather than silently ignored.
/// </summary>
internal static class HfConfigReader
{
    private const long MaxConfigBytes = 16 << 20;
    private const string ArchitectureName = "LlamaForCausalLM";

    /// <summary>The config.json key for each config property, used in error messages.</summary>
    private static readonly Dictionary<string, string> KeyNames = new()
    {
        [nameof(LlamaConfig.Dim)] = "hidden_size",
        [nameof(LlamaConfig.HiddenDim)] = "intermediate_size",
        [nameof(LlamaConfig.LayerCount)] = "num_hidden_layers",
        [nameof(LlamaConfig.HeadCount)] = "num_attention_heads",
        [nameof(LlamaConfig.KvHeadCount)] = "num_key_value_heads",
        [nameof(LlamaConfig.VocabSize)] = "vocab_size",
        [nameof(LlamaConfig.ContextLength)] = "max_position_embeddings",
        [nameof(LlamaConfig.HeadDim)] = "head_dim",
        [nameof(LlamaConfig.NormEpsilon)] = "rms_norm_eps",
        [nameof(LlamaConfig.RopeTheta)] = "rope_theta",
        [nameof(LlamaConfig.RopeScaling)] = "rope_scaling",
    };

    public static LlamaConfig Read(string path)
    {
        using var document = JsonFile.Read(path, MaxConfigBytes);
        var s = new JsonSettings(path, document.RootElement);

        if (s.Strings("architectures") is { } architectures)
        {
            if (!architectures.Contains(ArchitectureName))
                throw s.Error("architectures", $"[{string.Join(", ", architectures)}] is not supported; Caldera runs {ArchitectureName} models");
        }
        else if (s.String("model_type") is var modelType and not "llama")
            throw s.Error("model_type", $"'{modelType ?? "(absent)"}' is not supported; Caldera runs 'llama' models");
        if (s.String("hidden_act") is { } activation and not "silu")
            throw s.Error("hidden_act", $"'{activation}' is not supported; Llama's SwiGLU uses 'silu'");
        foreach (string bias in (ReadOnlySpan<string>)["attention_bias", "mlp_bias"])
            if (s.Bool(bias) == true)
                throw s.Error(bias, "is true, but Caldera's Llama has no bias vectors");

        int dim = s.RequireInt32("hidden_size");
        int heads = s.RequireInt32("num_attention_heads");
        int? headDim = s.Int32("head_dim");
        if (headDim is null && heads > 0 && dim > 0 && dim % heads != 0)
            throw s.Error("num_attention_heads", $"{heads} heads do not divide hidden_size {dim}");

        return new LlamaConfig
        {
            Dim = dim,
            HiddenDim = s.RequireInt32("intermediate_size"),
            LayerCount = s.RequireInt32("num_hidden_layers"),
            HeadCount = heads,
            KvHeadCount = s.Int32("num_key_value_heads") ?? heads,
            VocabSize = s.RequireInt32("vocab_size"),
            ContextLength = s.RequireInt32("max_position_embeddings"),
            HeadDim = headDim ?? (heads > 0 ? dim / heads : 0),
            NormEpsilon = (float)s.RequireReal("rms_norm_eps"),
            RopeTheta = (float)(s.Real("rope_theta") ?? 10000.0),
            RopeScaling = ReadRopeScaling(s),
            RopePairing = RopePairing.RotateHalf,
            TiedClassifier = s.Bool("tie_word_embeddings") ?? false,
        }.Validate(path, n => KeyNames.GetValueOrDefault(n, n));
    }

    /// <summary><c>rope_scaling</c>: absent, null or type "default" is none; "llama3" is Llama 3.1's scaling; anything else is unsupported.</summary>
    private static RopeScaling? ReadRopeScaling(JsonSettings s)
    {
        if (s.Object("rope_scaling") is not { } r) return null;
        string? type = r.String("rope_type") ?? r.String("type");
        return type switch
        {
            "llama3" => new RopeScaling(
                (float)r.RequireReal("factor"),
                (float)r.RequireReal("low_freq_factor"),
                (float)r.RequireReal("high_freq_factor"),
                r.RequireInt32("original_max_position_embeddings")),
            "default" => null,
            _ => throw s.Error("rope_scaling", $"type '{type ?? "(absent)"}' is not supported; Caldera implements 'llama3' RoPE scaling only"),
        };
    }
}
