using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
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

    /// <summary>
    /// Writes the model as a .cald file with the SentencePiece tokenizer at <paramref name="tokenizerPath"/>: the same
    /// shapes and bytes per token as the compressed synthetic GGUF, so a published app's speed can be measured without
    /// compressing (the codes are random, so its text means nothing).
    /// </summary>
    public static void Write(string tokenizerPath, string caldPath)
    {
        var content = Build() with { Tokenizer = new TokenizerPayload(TokenizerPayloadKind.SentencePieceModel, File.ReadAllBytes(tokenizerPath)) };
        CaldWriter.Write(caldPath, content);
        Console.WriteLine($"wrote {caldPath}: {new FileInfo(caldPath).Length:N0} bytes");
    }

    /// <summary>Bytes one decode step reads from weights: every matrix's code words once, and the dense classifier.</summary>
    public static (long Codes, long Classifier) BytesPerToken(CompressedModelContent content)
    {
        long codes = content.Matrices.Sum(m => 2L * (m.QCodes.Length + m.LTransposedCodes.Length + m.RCodes.Length));
        long classifier = content.DenseTensors.Where(d => d.Name == TensorNames.Output).Sum(d => (long)d.Data.Length);
        return (codes, classifier);
    }
}
