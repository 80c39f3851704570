using Caldera.Runtime.Formats;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Tests.Formats;

/// <summary>Test helpers for raw tensor bytes and deterministic synthetic weights.</summary>
internal static unsafe class TestTensors
{
    /// <summary>The stored bytes of <paramref name="t"/>, for bit-exact comparisons.</summary>
    public static byte[] Bytes(TensorView t) => new ReadOnlySpan<byte>(t.Data, checked((int)t.ByteLength)).ToArray();

    public static byte[] F32Bytes(ReadOnlySpan<float> values) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).ToArray();

    /// <summary>Deterministic weights in about ±0.1, so tests can build models of any shape without fixtures.</summary>
    public static float[] Random(long count, int seed)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (long i = 0; i < count; i++) values[i] = (float)(random.NextDouble() - 0.5) * 0.2f;
        return values;
    }

    /// <summary>
    /// A tiny Llama (dim 8, two query heads sharing one KV head, one layer, 8-token vocabulary) as a GGUF
    /// writer with a tied classifier: small enough that a test can write hundreds of corrupted copies of it.
    /// </summary>
    public static GgufWriter TinyGguf(int version = 3)
    {
        var config = new LlamaConfig
        {
            Dim = 8, HiddenDim = 12, LayerCount = 1, HeadCount = 2, KvHeadCount = 1, VocabSize = 8, ContextLength = 16, HeadDim = 4, TiedClassifier = true,
        };
        var writer = new GgufWriter(version)
            .Set("general.architecture", GgufValueType.String, "llama")
            .Set("llama.context_length", GgufValueType.UInt32, 16u)
            .Set("llama.embedding_length", GgufValueType.UInt32, 8u)
            .Set("llama.feed_forward_length", GgufValueType.UInt32, 12u)
            .Set("llama.block_count", GgufValueType.UInt32, 1u)
            .Set("llama.attention.head_count", GgufValueType.UInt32, 2u)
            .Set("llama.attention.head_count_kv", GgufValueType.UInt32, 1u)
            .Set("llama.attention.layer_norm_rms_epsilon", GgufValueType.Float32, 1e-5f)
            .Set("tokenizer.ggml.model", GgufValueType.String, "llama")
            .Set("tokenizer.ggml.tokens", GgufValueType.Array,
                new GgufArray(GgufValueType.String, new[] { "<unk>", "<s>", "</s>", "▁a", "▁b", "c", "d", "e" }))
            .Set("tokenizer.ggml.scores", GgufValueType.Array,
                new GgufArray(GgufValueType.Float32, new[] { 0f, 0f, 0f, -1f, -2f, -3f, -4f, -5f }));
        int seed = 1;
        foreach (var (name, shape) in TensorNames.Expected(config))
        {
            long count = shape.Aggregate(1L, (a, b) => a * b);
            writer.Tensors.Add(new GgufTensorEntry(name, shape, GgmlType.F32, F32Bytes(Random(count, seed++))));
        }
        return writer;
    }
}
