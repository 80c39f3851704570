using System.Globalization;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Compression;

/// <summary>
/// The one definition of bits per weight that every command prints: every stored byte of the model's file(s) × 8 over
/// its parameters, where a parameter is one weight the model computes with (a classifier tied to the embedding, or
/// stored as a byte-for-byte copy of it, counts once). Beside it, labelled as such, the decoder blocks' linear layers
/// alone (llama.cpp's "layer bpw" of its per-type figures): their stored bits over their weights.
/// </summary>
internal sealed record BitsPerWeight(long FileBytes, long Parameters, long LinearLayerBits, long LinearLayerWeights)
{
    /// <summary>8 × <see cref="FileBytes"/> / <see cref="Parameters"/>: headers, tokenizer, manifest and padding included.</summary>
    public double File => Parameters == 0 ? 0 : 8.0 * FileBytes / Parameters;

    /// <summary>Stored bits of the blk.N.* matrices (compressed or dense) over their weights.</summary>
    public double LinearLayers => LinearLayerWeights == 0 ? 0 : (double)LinearLayerBits / LinearLayerWeights;

    /// <summary>A compressed model's <paramref name="content"/> stored in a file of <paramref name="fileBytes"/>.</summary>
    public static BitsPerWeight Of(CompressedModelContent content, long fileBytes)
    {
        var (linearBits, linearWeights, parameters) = CompressedModelCheck.CountWeights(content);
        return new BitsPerWeight(fileBytes, parameters, linearBits, linearWeights);
    }

    /// <summary>
    /// A dense checkpoint: the bytes of its source (the file, or every file of a directory, as the compiler's source hash
    /// reads them; an in-memory checkpoint's tensors), and each tensor at its stored element size.
    /// </summary>
    public static BitsPerWeight Of(ModelCheckpoint checkpoint)
    {
        string source = checkpoint.SourcePath;
        long fileBytes = Directory.Exists(source) ? Directory.GetFiles(source).Sum(f => new FileInfo(f).Length)
            : System.IO.File.Exists(source) ? new FileInfo(source).Length
            : checkpoint.Tensors.Values.Sum(t => t.ByteLength);
        bool copy = TiedWeights.ClassifierCopiesEmbedding(checkpoint);
        long parameters = 0, linearBits = 0, linearWeights = 0;
        foreach (var t in checkpoint.Tensors.Values)
        {
            if (copy && t.Name == TensorNames.Output) continue;
            parameters += t.ElementCount;
            if (!TensorNames.IsBlockMatrix(t.Name)) continue;
            linearBits += 8 * t.ByteLength;
            linearWeights += t.ElementCount;
        }
        return new BitsPerWeight(fileBytes, parameters, linearBits, linearWeights);
    }

    /// <summary>The line <c>compress</c>, <c>inspect</c> and <c>eval</c> print.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{File:F3} bits/weight (whole file: 8 × {FileBytes:N0} bytes / {Parameters:N0} parameters); linear layers alone {LinearLayers:F3}");
}
