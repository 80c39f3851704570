using Caldera.Runtime.Compression;
using Caldera.Runtime.Model;

namespace Caldera.Benchmarks.Inference;

/// <summary>
/// <see cref="SyntheticLlama"/>'s shape as a CALDERA model (Q 2-bit E8P, rank 64 with 4-bit factors, randomized
/// Hadamard transforms on both sides), laid out exactly as the compiler writes one: every block matrix compressed,
/// the embedding and the untied classifier dense F16, the norms F32 (<see cref="SyntheticCompressedModel"/>, random codes).
/// </summary>
internal static class SyntheticCompressedLlama
{
    public const int Rank = 64;

    public static CompressedModelContent Build() => SyntheticCompressedModel.Build(SyntheticLlama.Config, Rank);

    /// <summary>Bytes one decode step reads from weights: every matrix's code words once, and the dense classifier.</summary>
    public static (long Codes, long Classifier) BytesPerToken(CompressedModelContent content)
    {
        long codes = content.Matrices.Sum(m => 2L * (m.QCodes.Length + m.LTransposedCodes.Length + m.RCodes.Length));
        long classifier = content.DenseTensors.Where(d => d.Name == TensorNames.Output).Sum(d => (long)d.Data.Length);
        return (codes, classifier);
    }
}
