using Caldera.CompilerServices;
using Caldera.Runtime.Compression;
using Caldera.Runtime.Kernels;
using Caldera.Runtime.Model;

namespace Caldera.Runtime.Inference;

/// <summary>
/// What a binder needs to turn a model's weight matrices into <see cref="ILinear"/>s for a <see cref="Transformer"/>:
/// the worker pool they run on and the arithmetic the transformer's options chose for them. Every variant is chosen
/// here, once, when the model is bound; nothing is swapped or switched afterwards.
/// </summary>
internal sealed class LinearBinding
{
    /// <param name="int8Activations">Compressed matrices run with int8 activations (<see cref="TransformerOptions.Int8Activations"/>).</param>
    /// <param name="classifierPrecision">How a dense classifier runs (<see cref="TransformerOptions.ClassifierPrecision"/>).</param>
    public LinearBinding(WorkerPool pool, bool int8Activations = false, ClassifierPrecision classifierPrecision = ClassifierPrecision.Stored)
    {
        Pool = pool;
        Int8Activations = int8Activations;
        ClassifierPrecision = classifierPrecision;
    }

    public WorkerPool Pool { get; }
    public bool Int8Activations { get; }
    public ClassifierPrecision ClassifierPrecision { get; }

    /// <summary>A dense block matrix, read in place as stored.</summary>
    public ILinear Dense(TensorView weight) => new DenseLinear(weight, Pool);

    /// <summary>
    /// A dense classifier in <see cref="ClassifierPrecision"/>: read in place, or a quantised copy made now. One stored as
    /// <see cref="TensorType.Int6Blocks"/> or <see cref="TensorType.Int4Blocks"/> is read in place whatever the precision: a wider copy
    /// would hold nothing more.
    /// </summary>
    public ILinear DenseClassifier(TensorView weight) => weight.Type switch
    {
        TensorType.Int6Blocks => new Int6DenseLinear(weight, Pool),
        TensorType.Int4Blocks => new Int4DenseLinear(weight, Pool),
        _ => StoredClassifier(weight),
    };

    private ILinear StoredClassifier(TensorView weight) => ClassifierPrecision switch
    {
        ClassifierPrecision.Stored => new DenseLinear(weight, Pool),
        ClassifierPrecision.Int8 => new Int8DenseLinear(weight, Pool),
        ClassifierPrecision.Int6 => new Int6DenseLinear(weight, Pool),
        _ => throw new ArgumentOutOfRangeException(nameof(ClassifierPrecision), $"classifier precision {(int)ClassifierPrecision} is not one of Stored, Int8, Int6"),
    };

    /// <summary>
    /// A compressed matrix that runs <paramref name="kernels"/> in this binding's activations, on buffers shared through
    /// <paramref name="scratch"/>; <paramref name="dataChecked"/> when its model's check has passed (it is not repeated).
    /// </summary>
    public ILinear Compressed(CompressedLinearData data, CompressedLinearScratch scratch, ICompressedRowKernels kernels, bool dataChecked = false) =>
        new CompressedLinear(data, Pool, scratch, KernelPaths.Best, kernels, Int8Activations, dataChecked);
}
