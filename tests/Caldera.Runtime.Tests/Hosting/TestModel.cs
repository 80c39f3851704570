using Caldera.Runtime.Formats;
using Caldera.Runtime.Hosting;
using Caldera.Runtime.Inference;
using Caldera.CompilerServices;

namespace Caldera.Runtime.Tests.Hosting;

/// <summary>
/// A hand-written stand-in for a generated class: its kernels wrap the generic ones and count the matrices they
/// were bound for, so tests see whether the kernel seam is used.
/// </summary>
internal sealed class TestModel : CalderaModel
{
    private TestModel(CalderaModelDescription description, CalderaModelOptions? options) : base(description, options)
    {
    }

    public int KernelRequests { get; private set; }

    public static TestModel Load(CalderaModelDescription description, CalderaModelOptions? options = null) => new(description, options);

    protected override ICompressedRowKernels? KernelsFor(MatrixShape matrix)
    {
        KernelRequests++;
        return GenericRowKernels.Best;
    }

    /// <summary>The description a build would bake for <paramref name="path"/>.</summary>
    public static CalderaModelDescription Describe(string path, CalderaStorage storage = CalderaStorage.Resource, string name = "Stories")
    {
        using var file = CaldFile.Open(path);
        var c = file.Content.Config;
        return new CalderaModelDescription
        {
            Name = name,
            Storage = storage,
            ResourceName = $"Caldera.Models.{name}.cald",
            FileName = $"{name}.cald",
            FileLength = file.Length,
            Checksum = file.Checksum,
            Dim = c.Dim,
            HiddenDim = c.HiddenDim,
            LayerCount = c.LayerCount,
            HeadCount = c.HeadCount,
            KvHeadCount = c.KvHeadCount,
            HeadDim = c.HeadDim,
            VocabSize = c.VocabSize,
            ContextLength = c.ContextLength,
            TiedClassifier = c.TiedClassifier,
            Matrices = [.. file.Content.Matrices.Select(m => new MatrixShape(m.Name, m.Rows, m.Columns, m.Rank))],
        };
    }
}
