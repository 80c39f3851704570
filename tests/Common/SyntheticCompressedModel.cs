using System.Runtime.InteropServices;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Incoherence;
using Caldera.Runtime.Model;

namespace Caldera.Tests;

/// <summary>
/// A CALDERA model of any Llama shape laid out exactly as the compiler writes one (Q 2-bit E8P, 4-bit factors of the
/// given rank, randomized Hadamard transforms on both sides; the embedding and the untied classifier dense F16, the
/// norms F32), built in memory from random code words. The benchmarks' dim-2048 model and the tests' small models at
/// real kernel widths both come from here.
/// </summary>
/// <remarks>
/// The codes are random words of the right shapes, not a real compression: compressing a dim-2048 model at the fast
/// preset takes ~25 min, and decode speed does not depend on code values (every word costs the same table loads
/// and FMAs). The scales keep activations O(1): Q's decoded entries have RMS ≈ 1.6, so g·QScale ≈ 1/√columns.
/// </remarks>
internal static class SyntheticCompressedModel
{
    public static CompressedModelContent Build(LlamaConfig config, int rank)
    {
        ulong state = 0x2545F4914F6CDD1D;
        var transforms = new Dictionary<int, TransformData>();
        TransformData Transform(int n) => transforms.TryGetValue(n, out var t) ? t : transforms[n] = TransformData.From(RandomizedHadamard.Create(n, (ulong)n));
        var dense = new List<DenseTensorData>();
        var matrices = new List<CompressedLinearData>();
        foreach (var (name, shape) in TensorNames.Expected(config))
        {
            if (shape.Length == 1)
            {
                var ones = new float[shape[0]];
                Array.Fill(ones, 1f);
                dense.Add(new DenseTensorData(name, shape, TensorType.F32, MemoryMarshal.AsBytes(ones.AsSpan()).ToArray()));
                continue;
            }
            int rows = (int)shape[0], columns = (int)shape[1];
            if (name == TensorNames.TokenEmbedding || name == TensorNames.Output)
            {
                var halves = new Half[(long)rows * columns];
                float scale = MathF.Sqrt(3f / columns);
                for (int i = 0; i < halves.Length; i++) halves[i] = (Half)((Next(ref state) >> 40) * (2f / (1 << 24)) * scale - scale);
                dense.Add(new DenseTensorData(name, shape, TensorType.F16, MemoryMarshal.AsBytes(halves.AsSpan()).ToArray()));
                continue;
            }
            matrices.Add(new CompressedLinearData
            {
                Name = name, Rows = rows, Columns = columns, GlobalScale = 1f / MathF.Sqrt(columns),
                InputTransform = Transform(columns), OutputTransform = Transform(rows),
                QKind = QCodeKind.E8P, QBits = 2, QWordsPerRow = columns / 8, QScale = 0.6f,
                QCodes = Words(ref state, (long)rows * columns / 8),
                Rank = rank, FactorBits = 4,
                LTransposedCodes = Words(ref state, (long)rank * rows / 4), LTransposedScale = 0.01f,
                RCodes = Words(ref state, (long)rank * columns / 4), RScale = 0.01f,
            });
        }
        return new CompressedModelContent
        {
            Config = config, DenseTensors = dense, Matrices = matrices, SourceSha256 = new string('0', 64), ToolVersion = "benchmark",
            Settings = new CompressionSettings { Method = "caldera", Rank = rank, QBits = 2, FactorBits = 4, Preset = "random-codes", Calibration = "none" },
        };
    }

    private static ushort[] Words(ref ulong state, long count)
    {
        var words = new ushort[count];
        for (long i = 0; i < count; i += 4)
        {
            ulong r = Next(ref state);
            for (int k = 0; k < 4 && i + k < count; k++) words[i + k] = (ushort)(r >> (16 * k));
        }
        return words;
    }

    private static ulong Next(ref ulong state)
    {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17; // xorshift64
        return state;
    }
}
