using System.Buffers;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Formats;
using Caldera.Runtime.Model;
using Caldera.CompilerServices;

namespace Caldera.Runtime.Inference;

/// <summary>
/// A <see cref="CompressedModelContent"/> made ready for the <see cref="Transformer"/>: the embedding, the norms and
/// any matrix kept dense are read in place as <see cref="TensorView"/>s (pinned), every compressed matrix becomes a
/// <see cref="CompressedLinear"/>. Use <see cref="Bind"/> as the transformer's binder; dispose this after the
/// transformers that use it.
/// </summary>
internal sealed unsafe class CompressedModelWeights : IDisposable
{
    private readonly Dictionary<string, TensorView> _dense = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CompressedLinearData> _matrices = new(StringComparer.Ordinal);
    private readonly List<MemoryHandle> _pins = [];

    /// <summary>Checks <paramref name="content"/> (errors are <see cref="ModelFormatException"/>s naming <paramref name="sourcePath"/>) and pins its dense tensors.</summary>
    public CompressedModelWeights(CompressedModelContent content, string sourcePath = "in-memory model")
        : this(content, sourcePath, alreadyChecked: false)
    {
    }

    internal CompressedModelWeights(CompressedModelContent content, string sourcePath, bool alreadyChecked)
    {
        if (!alreadyChecked)
        {
            content.Config.Validate(sourcePath);
            if (CompressedModelCheck.FindProblem(content) is var (name, problem)) throw ModelFormatException.ForTensor(sourcePath, name, problem);
        }
        Content = content;
        SourcePath = sourcePath;
        foreach (var m in content.Matrices) _matrices.Add(m.Name, m);
        foreach (var d in content.DenseTensors)
        {
            var pin = d.Data.Pin();
            _pins.Add(pin);
            _dense.Add(d.Name, new TensorView(d.Name, d.Shape, d.Type, (byte*)pin.Pointer));
        }
    }

    public CompressedModelContent Content { get; }
    public string SourcePath { get; }
    public LlamaConfig Config => Content.Config;

    /// <summary>
    /// Binds the weights as <paramref name="binding"/> chooses; the compressed matrices share one scratch buffer set. A
    /// matrix for which <paramref name="kernelsFor"/> gives kernels (a build's shape-specialised ones) runs them; any
    /// other runs the generic kernels. Matrices kept dense are read in place, the classifier in the binding's precision.
    /// </summary>
    public TransformerWeights Bind(LinearBinding binding, Func<CompressedLinearData, ICompressedRowKernels?>? kernelsFor = null)
    {
        var scratch = new CompressedLinearScratch();
        return TransformerWeights.Create(Config, Tensor, name => Matrix(name, binding.Dense), name => Matrix(name, binding.DenseClassifier));

        ILinear Matrix(string name, Func<TensorView, ILinear> dense) => _matrices.TryGetValue(name, out var m)
            ? binding.Compressed(m, scratch, kernelsFor?.Invoke(m) ?? GenericRowKernels.Best, dataChecked: true)
            : dense(Tensor(name));
    }

    private TensorView Tensor(string name) =>
        _dense.TryGetValue(name, out var t) ? t : throw ModelFormatException.ForTensor(SourcePath, name, "is missing");

    public void Dispose()
    {
        foreach (var pin in _pins) pin.Dispose();
        _pins.Clear();
    }
}
