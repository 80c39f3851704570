namespace Caldera.Generators;

/// <summary>
/// Everything the emitter needs for one model, parsed from its description: plain values and equatable arrays
/// only (no Roslyn symbols, no source text), so an unchanged description is a cached pipeline step.
/// </summary>
internal sealed record ModelSpec(
    string Name,
    string Namespace,
    string Storage,
    string ResourceName,
    string FileName,
    long FileLength,
    ulong Checksum,
    ConfigSpec Config,
    EquatableArray<MatrixSpec> Matrices,
    EquatableArray<KernelShape> Kernels);

/// <summary>The architecture (the description's "config").</summary>
internal sealed record ConfigSpec(int Dim, int HiddenDim, int Layers, int Heads, int KvHeads, int HeadDim, int VocabSize, int ContextLength, bool TiedClassifier);

/// <summary>One compressed matrix W (rows×columns) ≈ Q + L·R as the description lists it.</summary>
internal sealed record MatrixSpec(string Name, int Rows, int Columns, string Q, int QBits, int Rank, int FactorBits);

/// <summary>A distinct shape that gets its own kernels: E8P Q, 4-bit factors, columns a multiple of 8.</summary>
internal sealed record KernelShape(int Rows, int Columns, int Rank)
{
    public string ClassName => $"Kernels{Rows}x{Columns}Rank{Rank}";
}

/// <summary>The outcome of parsing one description: the spec (null when it is unusable) and what to report.</summary>
internal sealed record ParseResult(ModelSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics);
