using Caldera.Runtime.Compression;
using Caldera.Runtime.Model;
using Caldera.Runtime.Tests.Compression;

namespace Caldera.Runtime.Tests.Training;

/// <summary>Small compressed models for the training tests: every storage kind of a block matrix, in the configurations training must handle.</summary>
internal static class TrainingModels
{
    /// <summary>
    /// Two layers, dim 16, 4 query heads sharing 2 KV heads (GQA), hidden 172 (a non-power-of-two Hadamard order:
    /// a 43×43 fallback block times H_4), vocab 32. Block matrices cycle through 4-bit factors of rank 4, 16-bit factors
    /// of rank 3, a uniform-coded Q with 4-bit factors and no transforms, and one dense matrix.
    /// </summary>
    /// <param name="blockVocabulary">How the embedding and an untied classifier are stored: F16, or as <c>caldera compress</c>
    /// stores them by default (6-bit blocks; the classifier in 4-bit blocks, so both block types are read).</param>
    public static CompressedModelContent Synthetic(RopePairing pairing, bool tied, bool llama3Scaling, int seed = 3, bool blockVocabulary = false)
    {
        var config = new LlamaConfig
        {
            Dim = 16, HiddenDim = 172, LayerCount = 2, HeadCount = 4, KvHeadCount = 2, HeadDim = 4, VocabSize = 32, ContextLength = 16,
            TiedClassifier = tied, RopePairing = pairing, RopeScaling = llama3Scaling ? new RopeScaling(8, 1, 4, 8) : null,
        };
        var random = new Random(seed);
        var dense = new List<DenseTensorData>();
        var matrices = new List<CompressedLinearData>();
        int n = 0;
        foreach (var (name, shape) in TensorNames.Expected(config))
        {
            n++;
            if (shape.Length == 1)
            {
                dense.Add(SyntheticCompressed.Dense(name, shape, TensorType.F32, random, 0.5f));
                // Gains around 1, as trained models have them.
                var values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(dense[^1].Data.ToArray().AsSpan()).ToArray();
                for (int i = 0; i < values.Length; i++) values[i] += 1f;
                dense[^1] = dense[^1] with { Data = System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray() };
                continue;
            }
            if (name is TensorNames.TokenEmbedding or TensorNames.Output || name == TensorNames.Up(1))
            {
                if (blockVocabulary && name != TensorNames.Up(1))
                    dense.Add(SyntheticCompressed.ToBlocks(SyntheticCompressed.Dense(name, shape, TensorType.F32, random, 0.5f),
                        name == TensorNames.TokenEmbedding ? TensorType.Int6Blocks : TensorType.Int4Blocks));
                else dense.Add(SyntheticCompressed.Dense(name, shape, name == TensorNames.Up(1) ? TensorType.F32 : TensorType.F16, random, 0.5f));
                continue;
            }
            int rows = (int)shape[0], columns = (int)shape[1];
            matrices.Add((n % 3) switch
            {
                0 => SyntheticCompressed.Matrix(name, rows, columns, rank: 4, factorBits: 4, seed: n),
                1 => SyntheticCompressed.Matrix(name, rows, columns, rank: 3, factorBits: 16, seed: n),
                _ => SyntheticCompressed.Matrix(name, rows, columns, rank: 4, factorBits: 4, kind: QCodeKind.Uniform, transforms: false, seed: n, uniformBits: 3),
            });
        }
        return new CompressedModelContent
        {
            Config = config,
            DenseTensors = dense,
            Matrices = matrices,
            Settings = new CompressionSettings { Method = "caldera", Rank = 4, QBits = 2, FactorBits = 4, Preset = "fast", Calibration = "built-in" },
            SourceSha256 = new string('b', 64),
            ToolVersion = "0.1.0-test",
        };
    }

    /// <summary>Every configuration the backward pass must handle, by name for theory data.</summary>
    public static CompressedModelContent Variant(string name) => name switch
    {
        "interleaved-untied-llama3" => Synthetic(RopePairing.Interleaved, tied: false, llama3Scaling: true),
        "rotate-half-tied" => Synthetic(RopePairing.RotateHalf, tied: true, llama3Scaling: false),
        "block-stored-vocabulary" => Synthetic(RopePairing.RotateHalf, tied: false, llama3Scaling: false, blockVocabulary: true),
        _ => throw new ArgumentException(name),
    };

    public static readonly TheoryData<string> Variants = new() { "interleaved-untied-llama3", "rotate-half-tied", "block-stored-vocabulary" };

    public static readonly int[] Window = [1, 5, 9, 30, 2, 7, 7, 12];
    public static readonly int[] Targets = [5, 9, 30, 2, 7, 7, 12, 3];
}
