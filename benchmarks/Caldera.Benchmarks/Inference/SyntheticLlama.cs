using System.Runtime.InteropServices;
using Caldera.Runtime.Model;

namespace Caldera.Benchmarks.Inference;

/// <summary>
/// A Llama with TinyLlama-1.1B's block shape and random F16 weights, built in memory (nothing on disk):
/// dim 2048, 8 layers, 32 heads, 8 KV heads, FFN 5632, vocab 32000, untied classifier. The same shape is
/// what llama.cpp's numbers in benchmarks/README.md were measured on.
/// </summary>
internal static class SyntheticLlama
{
    public static readonly LlamaConfig Config = new()
    {
        Dim = 2048,
        HiddenDim = 5632,
        LayerCount = 8,
        HeadCount = 32,
        KvHeadCount = 8,
        VocabSize = 32000,
        ContextLength = 2048,
        HeadDim = 64,
        TiedClassifier = false,
    };

    /// <summary>Bytes of weights a decode step streams: every matrix once (the embedding row is negligible).</summary>
    public static long MatrixBytesPerToken()
    {
        long bytes = 0;
        foreach (var (name, shape) in TensorNames.Expected(Config))
            if (shape.Length == 2 && name != TensorNames.TokenEmbedding) bytes += shape[0] * shape[1] * sizeof(ushort);
        return bytes;
    }

    /// <summary>The model with random weights; <paramref name="config"/> overrides the shape (e.g. fewer layers, for a benchmark of one matrix).</summary>
    public static ModelCheckpoint Build(TensorType matrixType = TensorType.F16, LlamaConfig? config = null)
    {
        config ??= Config;
        var builder = new InMemoryCheckpoint(config, "synthetic-llama-2048d");
        ulong state = Seed;
        foreach (var (name, shape) in TensorNames.Expected(config))
        {
            if (shape.Length == 1)
            {
                var ones = new float[shape[0]];
                Array.Fill(ones, 1f);
                builder.Add(name, shape, TensorType.F32, ones);
                continue;
            }
            FillUniform(MemoryMarshal.Cast<byte, Half>(builder.Allocate(name, shape, matrixType)), shape[1], ref state);
        }
        return builder.Build();
    }

    /// <summary>The seed of the weight stream: the tensors of <see cref="TensorNames.Expected"/>, in order, draw from it.</summary>
    public const ulong Seed = 0x9E3779B97F4A7C15;

    /// <summary>
    /// Random weights of a matrix with <paramref name="columns"/> inputs: uniform in ±√3·σ with σ = 1/√columns,
    /// which keeps activations O(1) through the layers. <paramref name="state"/> is the xorshift64 stream.
    /// </summary>
    public static void FillUniform(Span<Half> halves, long columns, ref ulong state)
    {
        float scale = MathF.Sqrt(3f / columns);
        for (int i = 0; i < halves.Length; i++)
        {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            halves[i] = (Half)(((state >> 40) * (1f / (1 << 24)) * 2 - 1) * scale);
        }
    }
}
