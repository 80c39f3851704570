using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Tests.Inference;

/// <summary>The KV cache's size check, which a model class runs at load (docs/small-devices.md).</summary>
public class KvCacheLimitTests
{
    /// <summary>A Qwen2.5-0.5B-shaped Llama: 24 layers, 2 KV heads of 64, context 32768.</summary>
    private static readonly LlamaConfig HalfBillion = new()
    {
        Dim = 896, HiddenDim = 4864, LayerCount = 24, HeadCount = 14, KvHeadCount = 2, HeadDim = 64, VocabSize = 151936, ContextLength = 32768,
    };

    [Fact]
    public void The_kv_cache_is_two_floats_per_layer_position_and_kv_dimension()
    {
        Assert.Equal(24L * 1024, KvCache.Bytes(HalfBillion, 1));
        Assert.Equal(768L << 20, KvCache.Bytes(HalfBillion, 32768));
        KvCache.RequireFits(HalfBillion, 2048); // 48 MiB: fits any machine that runs these tests
    }

    [Fact]
    public void A_kv_cache_larger_than_the_memory_this_process_may_use_fails_naming_its_size_and_the_setting()
    {
        // 2 · 100000 layers · 1000000 positions · 128 floats: 1e17 bytes, more than any machine; each layer's cache is a legal array.
        var huge = HalfBillion with { LayerCount = 100_000, ContextLength = 1_000_000 };
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => KvCache.RequireFits(huge, 1_000_000));
        Assert.Contains($"needs {KvCache.Bytes(huge, 1_000_000) >> 20} MiB", e.Message);
        Assert.Contains("CalderaModelOptions.ContextLength", e.Message);
    }

    [Fact]
    public void A_layer_cache_beyond_the_largest_array_fails_before_any_arithmetic_overflows()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => KvCache.RequireFits(HalfBillion with { ContextLength = int.MaxValue }, int.MaxValue));
        Assert.Contains("too large", e.Message);
    }
}
