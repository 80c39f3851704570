using BenchmarkDotNet.Attributes;
using Caldera.Runtime.Tokenization;

namespace Caldera.Benchmarks.Tokenization;

/// <summary>
/// Streaming id → text over a generated-length sequence: <see cref="TokenTextStream"/> (a few-token window
/// per step) against re-decoding every id so far at each step, which is O(n²) in the sequence length.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 2, iterationCount: 6)]
[MemoryDiagnoser]
public class TokenTextStreamBenchmarks
{
    private ModelTokenizer _tokenizer = null!;
    private int[] _ids = [];

    [Params("llama2", "llama3")]
    public string Tokenizer { get; set; } = "";

    [Params(500, 4000)]
    public int TokenCount { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        string models = Path.Combine(FindRepoRoot(), "..", "shared", "models");
        _tokenizer = ModelTokenizer.Load(Tokenizer == "llama2"
            ? Path.Combine(models, "llama2-tokenizer", "tokenizer.model")
            : Path.Combine(models, "llama3-tokenizer", "tokenizer.json"));
        string text = File.ReadAllText(Path.Combine(models, "text", "tinystories_val.txt"))[..40_000] +
                      " Café, 日本語, 😀🎉 ";
        _ids = _tokenizer.Encode(text)[..TokenCount];
    }

    [Benchmark]
    public int Stream()
    {
        var stream = new TokenTextStream(_tokenizer);
        int chars = 0;
        foreach (int id in _ids) chars += stream.Push(id).Length;
        return chars + stream.Flush().Length;
    }

    [Benchmark(Baseline = true)]
    public int ReDecodeAll()
    {
        var ids = new List<int>(_ids.Length);
        int emitted = 0;
        foreach (int id in _ids)
        {
            ids.Add(id);
            string text = _tokenizer.Decode(ids);
            int end = text.Length;
            while (end > emitted && text[end - 1] == '\uFFFD') end--;
            emitted = Math.Max(emitted, end);
        }
        return emitted;
    }

    internal static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CalderaCompiler.sln"))) return dir.FullName;
        throw new InvalidOperationException("CalderaCompiler.sln not found above " + AppContext.BaseDirectory);
    }
}
