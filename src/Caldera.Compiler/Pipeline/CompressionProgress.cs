namespace Caldera.Compiler.Pipeline;

/// <summary>What a progress report announces.</summary>
internal enum CompressionEvent
{
    /// <summary>A matrix was compressed (<see cref="CompressionProgress.Matrix"/>, its error).</summary>
    MatrixCompressed,

    /// <summary>Every matrix of a block is compressed and cached.</summary>
    LayerCompressed,

    /// <summary>A block was taken from the cache of an earlier run, not recompressed.</summary>
    LayerFromCache,

    /// <summary>A cached block could not be used (<see cref="CompressionProgress.Note"/> says why) and is recompressed.</summary>
    CacheRejected,
}

/// <summary>
/// One step of <see cref="ModelCompressor"/>: block <see cref="Layer"/> (0-based) of <see cref="LayerCount"/>, or the
/// classifier (<see cref="Layer"/> = <see cref="LayerCount"/>),
/// the matrix and its activation-aware relative error, the time so far and an estimate of what is left
/// (from the weights still to compress at the rate so far; null before the first matrix is done).
/// </summary>
internal readonly record struct CompressionProgress(
    CompressionEvent Event,
    int Layer,
    int LayerCount,
    string? Matrix,
    double RelativeError,
    TimeSpan Elapsed,
    TimeSpan? Remaining,
    string? Note = null)
{
    /// <summary>"layer i/N", or "classifier" for the classifier's step.</summary>
    public string Where => Layer < LayerCount ? $"layer {Layer + 1}/{LayerCount}" : "classifier";
}
