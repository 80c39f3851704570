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
        AdapterFile.CheckGains(adapterPath, adapter, file.Content.Config);
        return (AdaptedLinear.Binder(model.Bind, file.Content, adapter), adapter);
    }

    /// <summary>
    /// The model's bits per weight with the adapter as an unmerged adapter runs: the adapter file's bytes added to the
    /// model's, and in the linear layers its ranks counted at 32 bits instead of the factors' own.
    /// </summary>
    public static BitsPerWeight Bits(CompressedModelContent content, BitsPerWeight stored, LowRankAdapter adapter, long adapterFileBytes)
    {
        var factorBits = content.Matrices.ToDictionary(m => m.Name, m => m.FactorBits, StringComparer.Ordinal);
        long extra = adapter.Matrices.Sum(m => (32L - factorBits[m.Name]) * m.Rank * ((long)m.Rows + m.Columns));
        return stored with { FileBytes = stored.FileBytes + adapterFileBytes, LinearLayerBits = stored.LinearLayerBits + extra };
    }
}
