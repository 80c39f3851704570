namespace Caldera.Runtime.Inference;

/// <summary>
/// How a <see cref="Transformer"/> runs a dense classifier stored in F32, F16 or BF16 (<see cref="TransformerOptions.ClassifierPrecision"/>);
/// one stored as <see cref="Model.TensorType.Int6Blocks"/> always runs as stored (<see cref="LinearBinding.DenseClassifier"/>).
/// </summary>
internal enum ClassifierPrecision
{
    /// <summary>As stored (F32, F16 or BF16), read in place: the exact reference.</summary>
    Stored,

    /// <summary>An int8 copy made at load (<see cref="Int8DenseLinear"/>): 9 bits per weight streamed per token.</summary>
    Int8,

    /// <summary>A 6-bit copy made at load (<see cref="Int6DenseLinear"/>): 6.5 bits per weight streamed per token.</summary>
    Int6,
}
