using System.Runtime.InteropServices;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Incoherence;
using Caldera.Runtime.Model;

namespace Caldera.Benchmarks.Inference;

/// <summary>
/// <see cref="SyntheticLlama"/>'s shape as a CALDERA model (Q 2-bit E8P, rank 64 with 4-bit factors, randomized
/// Hadamard transforms on both sides), laid out exactly as the compiler writes one: every block matrix compressed,
/// the embedding and the untied classifier dense F16, the norms F32.
/// </summary>
/// <remarks>
/// The codes are random words of the right shapes, not a real compression: compressing this model at the fast
/// preset takes ~25 min, and decode speed does not depend on code values (every word costs the same table loads
/// and FMAs). The scales keep activations O(1): Q's decoded entries have RMS ≈ 1.6, so g·QScale ≈ 1/√columns.
/// </remarks>
internal static class SyntheticCompressedLlama
{
    public const int Rank = 64;

    public static CompressedModelContent Build()
    {
        var config = SyntheticLlama.Config;
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
                Rank = Rank, FactorBits = 4,
                LTransposedCodes = Words(ref state, (long)Rank * rows / 4), LTransposedScale = 0.01f,
                RCodes = Words(ref state, (long)Rank * columns / 4), RScale = 0.01f,
            });
        }
        return new CompressedModelContent
        {
            Config = config, DenseTensors = dense, Matrices = matrices, SourceSha256 = new string('0', 64), ToolVersion = "benchmark",
            Settings = new CompressionSettings { Method = "caldera", Rank = Rank, QBits = 2, FactorBits = 4, Preset = "random-codes", Calibration = "none" },
        };
    }

    /// <summary>Bytes one decode step reads from weights: every matrix's code words once, and the dense classifier.</summary>
    public static (long Codes, long Classifier) BytesPerToken(CompressedModelContent content)
    {
        long codes = content.Matrices.Sum(m => 2L * (m.QCodes.Length + m.LTransposedCodes.Length + m.RCodes.Length));
        long classifier = content.DenseTensors.Where(d => d.Name == TensorNames.Output).Sum(d => (long)d.Data.Length);
        return (codes, classifier);
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
