using System.Runtime.InteropServices;
using Caldera.Cli;
using Caldera.Compiler.Decomposition;
using Caldera.Compiler.LinearAlgebra;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;
using Xunit.Abstractions;

namespace Caldera.Compiler.Tests.Compression;

/// <summary>
/// stories260K compressed in the test (CALDERA fast preset, rank 8, Hessians from the model's own normalised
/// embedding rows and from Gaussian inputs; real calibration is the pipeline's), written as .cald, read back and run.
/// </summary>
public sealed class CaldEndToEndTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("caldera-e2e-").FullName;

    [Fact]
    public void A_compressed_stories260K_round_trips_through_cald_and_generates_text()
    {
        var content = CompressStories260K();
        string path = Path.Combine(_directory, "stories260K.cald");
        CaldWriter.Write(path, content);

        // The loaded file computes exactly what the in-memory content does.
        using var weights = new CompressedModelWeights(content);
        using var inMemory = new Transformer(content.Config, binding => weights.Bind(binding), new TransformerOptions { Threads = 2, ContextLength = 64 });
        using (var model = LoadedModel.Open(path))
        using (var loaded = model.CreateTransformer(new TransformerOptions { Threads = 2, ContextLength = 64 }))
        {
            Assert.Equal(content.Matrices.Count, model.Compressed!.Content.Matrices.Count);
            int[] tokens = [1, 403, 407, 261, 378, 11, 290];
            var expected = new float[tokens.Length * content.Config.VocabSize];
            var actual = new float[expected.Length];
            inMemory.Prefill(tokens, 0, expected);
            loaded.Prefill(tokens, 0, actual);
            Assert.Equal(expected, actual);
        }

        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = CalderaCli.Run(["run", path, "--prompt", "Once upon a time", "--steps", "48", "--temperature", "0", "--threads", "2"], stdout, stderr);
        Assert.True(exit == 0, stderr.ToString());
        string text = stdout.ToString();
        output.WriteLine(text);
        output.WriteLine($"{new FileInfo(path).Length} bytes");
        Assert.StartsWith("Once upon a time", text);
        Assert.True(text.Trim().Length > "Once upon a time".Length + 20, $"too little text: '{text}'");
    }

    private static CompressedModelContent CompressStories260K()
    {
        using var checkpoint = ModelCheckpoint.Open(TestModels.Stories260KBin);
        var config = checkpoint.Config;
        var options = CalderaOptions.Fast with { Rank = 8, Threads = 2 };
        var random = new Random(260);
        var embeddingInputs = NormalisedRows(checkpoint.Tensor(TensorNames.TokenEmbedding).ToArray(), config.Dim);
        var hessians = new Dictionary<int, Matrix<double>>();
        Matrix<double> HessianFor(int n)
        {
            if (hessians.TryGetValue(n, out var h)) return h;
            var hessian = new Hessian(n);
            if (n == config.Dim) hessian.Add(embeddingInputs, config.VocabSize, threads: 2);
            else hessian.Add(TestData.Gaussian(random, 300 * n), 300, threads: 2);
            return hessians[n] = hessian.SecondMoment();
        }

        var dense = new List<DenseTensorData>();
        var matrices = new List<CompressedLinearData>();
        foreach (var (name, shape) in TensorNames.Expected(config))
        {
            var values = checkpoint.Tensor(name).ToArray();
            if (shape.Length == 1 || name == TensorNames.TokenEmbedding)
            {
                var type = shape.Length == 1 ? TensorType.F32 : TensorType.F16;
                dense.Add(new DenseTensorData(name, shape, type, Store(values, type)));
                continue;
            }
            var w = new Matrix<float>((int)shape[0], (int)shape[1], values);
            matrices.Add(CalderaDecomposer.Decompose(w, HessianFor(w.Cols), options).ToLinearData(name));
        }
        return new CompressedModelContent
        {
            Config = config,
            Tokenizer = new TokenizerPayload(TokenizerPayloadKind.SentencePieceModel, File.ReadAllBytes(TestModels.Tok512Model)),
            DenseTensors = dense,
            Matrices = matrices,
            Settings = new CompressionSettings
            {
                Method = "caldera", Rank = 8, QBits = 2, FactorBits = 4, Preset = "fast", OuterIterations = options.OuterIterations,
                InnerIterations = options.InnerIterations, RefinementSweeps = options.RefinementSweeps, RandomizedHadamard = true,
                HessianDowndate = true, Regularization = options.Regularization, Seed = options.Seed, Calibration = "test: embedding rows and Gaussian inputs",
            },
            SourceSha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(TestModels.Stories260KBin))),
            ToolVersion = "test",
        };
    }

    /// <summary>Each row scaled to RMS 1, as the RMSNorm in front of q/k/v and gate/up leaves a token's embedding.</summary>
    private static float[] NormalisedRows(float[] rows, int dim)
    {
        var result = new float[rows.Length];
        for (int r = 0; r < rows.Length / dim; r++)
        {
            var row = rows.AsSpan(r * dim, dim);
            float rms = MathF.Sqrt(System.Numerics.Tensors.TensorPrimitives.SumOfSquares(row) / dim + 1e-5f);
            System.Numerics.Tensors.TensorPrimitives.Divide(row, rms, result.AsSpan(r * dim, dim));
        }
        return result;
    }

    private static byte[] Store(float[] values, TensorType type)
    {
        if (type == TensorType.F32) return MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        var halves = new Half[values.Length];
        for (int i = 0; i < values.Length; i++) halves[i] = (Half)values[i];
        return MemoryMarshal.AsBytes(halves.AsSpan()).ToArray();
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp folder must not fail a test.
        }
    }
}
