using Caldera.Compiler.Evaluation;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Inference;
using Caldera.Runtime.Model;
using Caldera.Runtime.Training.Adapters;

namespace Caldera.Cli;

/// <summary>The <c>--adapter &lt;file&gt;</c> of <c>run</c> and <c>eval</c>: an adapter checked against its base and bound over it.</summary>
internal static class AdapterBinding
{
    /// <summary>Reads <paramref name="adapterPath"/>, checks it belongs to <paramref name="model"/>, and returns a binder that runs it.</summary>
    public static (Func<LinearBinding, TransformerWeights> Bind, LowRankAdapter Adapter) Open(LoadedModel model, string adapterPath)
    {
        var file = model.Compressed ?? throw new CliUsageException($"--adapter needs a .cald compressed model; {model.SourcePath} is a checkpoint");
        var adapter = AdapterFile.Read(adapterPath);
        AdapterFile.CheckBase(adapterPath, adapter, file.Checksum, file.Path);
        return (AdaptedLinear.Binder(model.Bind, file.Content, adapter), adapter);
    }

    /// <summary>
    /// The model's layer bits per weight with the adapter's ranks counted at 32 bits instead of the factors' own, as an
    /// unmerged adapter runs; the model-wide figure adds the same bits over all weights.
    /// </summary>
    public static StorageBits Bits(CompressedModelContent content, StorageBits stored, LowRankAdapter adapter)
    {
        var (_, layerWeights, totalWeights) = CompressedModelCheck.CountWeights(content);
        var factorBits = content.Matrices.ToDictionary(m => m.Name, m => m.FactorBits, StringComparer.Ordinal);
        double extra = adapter.Matrices.Sum(m => (32.0 - factorBits[m.Name]) * m.Rank * ((double)m.Rows + m.Columns));
        return new StorageBits(stored.LayerBitsPerWeight + extra / layerWeights, stored.ModelBitsPerWeight + extra / totalWeights);
    }
}
