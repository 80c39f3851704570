using BenchmarkDotNet.Attributes;
using Caldera.Runtime.Inference;

namespace Caldera.Benchmarks.Inference;

/// <summary>
/// Decode and prefill on <see cref="SyntheticCompressedLlama"/>, the CALDERA twin of <see cref="DecodeBenchmarks"/>
/// and <see cref="PrefillBenchmarks"/> (same shape, positions and token counts): decode is 16 tokens one at a time at
/// positions 64..79 after a 64-token prefill; prefill is llama.cpp's pp64, 64 tokens from position 0 in one batch.
/// DecodeCalderaInt8 is the same decode with <see cref="TransformerOptions.Int8Activations"/> (AVX-VNNI Q pass), and
/// DecodeCalderaInt8Classifier and DecodeCalderaInt6Classifier add <see cref="TransformerOptions.ClassifierPrecision"/>
/// (the classifier as an int8 or a 6-bit copy; the 6-bit one is what <c>caldera run</c> and generated classes run:
/// the product default, whose prefill PrefillCalderaDefault measures).
/// </summary>
[Config(typeof(InferenceBenchmarkConfig))]
public class CompressedModelBenchmarks
{
    private const int Tokens = 16, PromptTokens = 64;
    private readonly int[] _prompt = Enumerable.Range(1, PromptTokens).ToArray();
    private CompressedModelWeights _weights = null!;
    private Transformer _transformer = null!, _int8Transformer = null!, _int8ClassifierTransformer = null!, _int6ClassifierTransformer = null!;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var content = SyntheticCompressedLlama.Build();
        var (codes, classifier) = SyntheticCompressedLlama.BytesPerToken(content);
        Console.WriteLine($"// bytes streamed per decode token: {codes:N0} B of codes + {classifier:N0} B of F16 classifier");
        _weights = new CompressedModelWeights(content, "synthetic-caldera-2048d");
        _transformer = new Transformer(content.Config, binding => _weights.Bind(binding),
            new TransformerOptions { Threads = Threads, ContextLength = 256, PrefillBatchSize = PromptTokens });
        _transformer.Prefill(_prompt, 0);
        _int8Transformer = new Transformer(content.Config, binding => _weights.Bind(binding),
            new TransformerOptions { Threads = Threads, ContextLength = 256, PrefillBatchSize = PromptTokens, Int8Activations = true });
        _int8Transformer.Prefill(_prompt, 0);
        _int8ClassifierTransformer = Int8Decode(ClassifierPrecision.Int8);
        _int6ClassifierTransformer = Int8Decode(ClassifierPrecision.Int6);

        Transformer Int8Decode(ClassifierPrecision classifier)
        {
            var transformer = new Transformer(content.Config, binding => _weights.Bind(binding), new TransformerOptions
            {
                Threads = Threads, ContextLength = 256, PrefillBatchSize = PromptTokens, Int8Activations = true, ClassifierPrecision = classifier,
            });
            transformer.Prefill(_prompt, 0);
            return transformer;
        }
    }

    [Benchmark(OperationsPerInvoke = Tokens)]
    public float DecodeCaldera() => DecodeTokens(_transformer);

    [Benchmark(OperationsPerInvoke = Tokens)]
    public float DecodeCalderaInt8() => DecodeTokens(_int8Transformer);

    [Benchmark(OperationsPerInvoke = Tokens)]
    public float DecodeCalderaInt8Classifier() => DecodeTokens(_int8ClassifierTransformer);

    [Benchmark(OperationsPerInvoke = Tokens)]
    public float DecodeCalderaInt6Classifier() => DecodeTokens(_int6ClassifierTransformer);

    /// <summary>Tokens 100… at positions 64… after the prompt, one at a time.</summary>
    private static float DecodeTokens(Transformer transformer)
    {
        float sum = 0;
        for (int i = 0; i < Tokens; i++) sum += transformer.Decode(100 + i, PromptTokens + i)[0];
        return sum;
    }

    [Benchmark(OperationsPerInvoke = PromptTokens)]
    public float PrefillCaldera() => _transformer.Prefill(_prompt, 0)[0];

    /// <summary>pp64 with the product default (int8 arithmetic: Q·u of every prompt token in integers, 6-bit classifier).</summary>
    [Benchmark(OperationsPerInvoke = PromptTokens)]
    public float PrefillCalderaDefault() => _int6ClassifierTransformer.Prefill(_prompt, 0)[0];

    [GlobalCleanup]
    public void Cleanup()
    {
        _transformer.Dispose();
        _int8Transformer.Dispose();
        _int8ClassifierTransformer.Dispose();
        _int6ClassifierTransformer.Dispose();
        _weights.Dispose();
    }
}
