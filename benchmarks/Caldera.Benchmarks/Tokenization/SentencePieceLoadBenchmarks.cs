using BenchmarkDotNet.Attributes;
using Caldera.Runtime.Tokenization;
using Microsoft.ML.Tokenizers;

namespace Caldera.Benchmarks.Tokenization;

/// <summary>
/// Building Llama 2's SentencePiece tokenizer (32,000 pieces) from its ModelProto bytes, as a model's load does, and
/// encoding a paragraph with it: <see cref="SentencePieceBpe"/> against the library's <see cref="LlamaTokenizer"/>, which
/// gives the same ids.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
[MemoryDiagnoser]
public class SentencePieceLoadBenchmarks
{
    private byte[] _proto = [];
    private string _paragraph = "";
    private SentencePieceBpe _bpe = null!;
    private LlamaTokenizer _library = null!;

    [GlobalSetup]
    public void Setup()
    {
        string models = Path.Combine(TokenTextStreamBenchmarks.FindRepoRoot(), "..", "shared", "models");
        _proto = File.ReadAllBytes(Path.Combine(models, "llama2-tokenizer", "tokenizer.model"));
        _paragraph = File.ReadAllText(Path.Combine(models, "text", "tinystories_val.txt"))[..2_000];
        _bpe = SentencePieceBpe.TryRead(_proto) ?? throw new InvalidOperationException("SentencePieceBpe does not read Llama 2's tokenizer");
        _library = Library();
    }

    private LlamaTokenizer Library() => LlamaTokenizer.Create(new MemoryStream(_proto), addBeginOfSentence: false, addEndOfSentence: false);

    [Benchmark(Baseline = true)]
    public object BuildLibrary() => Library();

    [Benchmark]
    public object? BuildSentencePieceBpe() => SentencePieceBpe.TryRead(_proto);

    [Benchmark]
    public int EncodeLibrary() => _library.EncodeToIds(_paragraph).Count;

    [Benchmark]
    public int EncodeSentencePieceBpe() => _bpe.EncodeToIds(_paragraph).Count;
}
