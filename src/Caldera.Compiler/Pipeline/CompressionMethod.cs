namespace Caldera.Compiler.Pipeline;

/// <summary>How each block matrix is compressed.</summary>
internal enum CompressionMethod
{
    /// <summary>W ≈ Q + L·R: 2-bit E8P Q with BlockLDLQ and low-rank factors (4-bit lattice or 16-bit).</summary>
    Caldera,

    /// <summary>Rank-0 CALDERA: 2-bit E8P with BlockLDLQ and randomized Hadamard incoherence (QuIP#-like, no fine-tuning).</summary>
    Ldlq,

    /// <summary>Uniform round-to-nearest with one absmax scale per matrix; no incoherence, no calibration in the rounding.</summary>
    Rtn,
}
