using Caldera.Runtime.Compression;
using Caldera.Runtime.Incoherence;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Tests.Compression;

/// <summary>Seeded compressed matrices and whole compressed models with random codes, for matrix and format tests.</summary>
internal static class SyntheticCompressed
{
    public static CompressedLinearData Matrix(string name, int rows, int columns, int rank, int factorBits = 4,
        QCodeKind kind = QCodeKind.E8P, bool transforms = true, int seed = 1, int uniformBits = 2)
    {
        var random = new Random(seed);
        int wordsPerRow = kind == QCodeKind.E8P ? E8PLattice.VectorCount(columns) : columns;
        int maxCode = 2 * ((1 << (uniformBits - 1)) - 1);
        var q = new ushort[rows * wordsPerRow];
        for (int i = 0; i < q.Length; i++) q[i] = (ushort)(kind == QCodeKind.E8P ? random.Next(1 << 16) : random.Next(maxCode + 1));
        bool lattice = rank > 0 && factorBits == 4, halves = rank > 0 && factorBits == 16;
        return new CompressedLinearData
        {
            Name = name,
            Rows = rows,
            Columns = columns,
            GlobalScale = 0.75f,
            InputTransform = transforms ? TransformData.From(RandomizedHadamard.Create(columns, (ulong)seed)) : null,
            OutputTransform = transforms ? TransformData.From(RandomizedHadamard.Create(rows, (ulong)seed + 7)) : null,
            QKind = kind,
            QBits = kind == QCodeKind.E8P ? 2 : uniformBits,
            QCodes = q,
            QWordsPerRow = wordsPerRow,
            QScale = 0.05f,
            Rank = rank,
            FactorBits = factorBits,
            LTransposedCodes = lattice ? Words(random, rank * E8PResidualLattice.WordCount(rows)) : default,
            LTransposedScale = lattice ? 0.3f : 0,
            RCodes = lattice ? Words(random, rank * E8PResidualLattice.WordCount(columns)) : default,
            RScale = lattice ? 0.2f : 0,
            L = halves ? Halves(random, rows * rank) : default,
            R = halves ? Halves(random, rank * columns) : default,
            RelativeError = 0.125,
        };
    }

    /// <summary>A two-layer model (dim 16, hidden 172: a fallback transform block) mixing every storage kind.</summary>
    public static CompressedModelContent Model(TokenizerPayload? tokenizer = null, int seed = 3)
    {
        var config = new LlamaConfig
        {
            Dim = 16, HiddenDim = 172, LayerCount = 2, HeadCount = 4, KvHeadCount = 2, HeadDim = 4, VocabSize = 32, ContextLength = 16,
            TiedClassifier = false, RopeScaling = new RopeScaling(8, 1, 4, 8192),
        };
        var random = new Random(seed);
        var dense = new List<DenseTensorData>();
        var matrices = new List<CompressedLinearData>();
        int n = 0;
        foreach (var (name, shape) in TensorNames.Expected(config))
        {
            n++;
            if (shape.Length == 1 || name == TensorNames.TokenEmbedding || name == TensorNames.Query(1))
            {
                var type = shape.Length == 1 ? TensorType.F32 : n % 2 == 0 ? TensorType.F16 : TensorType.BF16;
                dense.Add(Dense(name, shape, type, random, shape.Length == 1 ? 1f : 0.1f));
                continue;
            }
            int rows = (int)shape[0], columns = (int)shape[1];
            matrices.Add((n % 4) switch
            {
                0 => Matrix(name, rows, columns, rank: 4, factorBits: 4, seed: n),
                1 => Matrix(name, rows, columns, rank: 3, factorBits: 16, seed: n),
                2 => Matrix(name, rows, columns, rank: 0, kind: QCodeKind.Uniform, transforms: false, seed: n, uniformBits: 3),
                _ => Matrix(name, rows, columns, rank: 0, factorBits: 4, seed: n),
            });
        }
        return new CompressedModelContent
        {
            Config = config,
            Tokenizer = tokenizer,
            DenseTensors = dense,
            Matrices = matrices,
            Settings = new CompressionSettings
            {
                Method = "caldera", Rank = 4, QBits = 2, FactorBits = 4, Preset = "fast", OuterIterations = 3, InnerIterations = 5,
                RefinementSweeps = 2, RandomizedHadamard = true, HessianDowndate = true, Regularization = 0.01, Seed = ulong.MaxValue - 5,
                Calibration = "built-in", CalibrationSamples = 128, CalibrationSequenceLength = 256,
            },
            SourceSha256 = new string('a', 64),
            ToolVersion = "0.1.0-test",
        };
    }

    public static DenseTensorData Dense(string name, long[] shape, TensorType type, Random random, float scale)
    {
        long count = 1;
        foreach (long d in shape) count *= d;
        var bytes = new byte[count * type.ElementSize()];
        for (int i = 0; i < count; i++)
        {
            float v = (float)(random.NextDouble() * 2 - 1) * scale;
            switch (type)
            {
                case TensorType.F32: BitConverter.TryWriteBytes(bytes.AsSpan(4 * i), v); break;
                case TensorType.F16: BitConverter.TryWriteBytes(bytes.AsSpan(2 * i), (Half)v); break;
                default: BitConverter.TryWriteBytes(bytes.AsSpan(2 * i), (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16)); break;
            }
        }
        return new DenseTensorData(name, shape, type, bytes);
    }

    private static ushort[] Words(Random random, int count)
    {
        var words = new ushort[count];
        for (int i = 0; i < count; i++) words[i] = (ushort)random.Next(1 << 16);
        return words;
    }

    private static Half[] Halves(Random random, int count)
    {
        var values = new Half[count];
        for (int i = 0; i < count; i++) values[i] = (Half)((random.NextDouble() * 2 - 1) * 0.5);
        return values;
    }

    /// <summary><paramref name="dense"/> quantised to a block type (int4 or int6 blocks), as the compiler stores the vocabulary matrices.</summary>
    public static unsafe DenseTensorData ToBlocks(DenseTensorData dense, TensorType type)
    {
        var bytes = new byte[type.ByteLength(dense.Shape)];
        fixed (byte* p = dense.Data.Span)
        {
            var view = new TensorView(dense.Name, dense.Shape, dense.Type, p);
            if (type == TensorType.Int6Blocks) Caldera.Runtime.Kernels.Int6Blocks.QuantizeMatrix(view, bytes);
            else Caldera.Runtime.Kernels.Int4Blocks.QuantizeMatrix(view, bytes);
        }
        return new DenseTensorData(dense.Name, dense.Shape, type, bytes);
    }
}
