namespace Caldera.Runtime.Compression;

/// <summary>How Q's code words are to be read.</summary>
public enum QCodeKind
{
    /// <summary>2-bit E8P lattice: one 16-bit word per 8 weights (see the E8P codebook for the bit layout).</summary>
    E8P,

    /// <summary>Symmetric uniform b-bit grid: one 16-bit word per weight holding level + (2^(b−1) − 1).</summary>
    Uniform,
}

/// <summary>
/// One orthonormal transform side of a compressed matrix, u = U_nᵀ(S ⊙ x): the random signs S, and U_n's mixing
/// block A (U_n = A ⊗ H_P/√P). A Hadamard block is rebuilt from its order; a seeded fallback block is stored,
/// because its floating-point construction is not guaranteed bit-identical across platforms.
/// </summary>
public sealed record TransformData(int Length, int BlockOrder, bool IsHadamard, ReadOnlyMemory<float> Signs, ReadOnlyMemory<float> FallbackBlock);

/// <summary>
/// The stored form of one compressed weight matrix W (m×n): Ŵ = g·diag(SV)·V_m·(Q + L·R)·U_nᵀ·diag(SU).
/// The compiler produces it from a decomposition; the .cald writer stores it; the runtime computes with it.
/// Arrays are memory views so that a reader can hand out zero-copy views of a memory-mapped file; an absent
/// part (no factors, 16-bit vs 4-bit factors, no fallback block) is an empty view.
/// </summary>
public sealed record CompressedLinearData
{
    /// <summary>The canonical tensor name it replaces (see TensorNames), e.g. "blk.0.attn_q.weight".</summary>
    public required string Name { get; init; }

    public required int Rows { get; init; }
    public required int Columns { get; init; }

    /// <summary>g = RMS(W).</summary>
    public required float GlobalScale { get; init; }

    /// <summary>SU and U_n; null means identity (plain round-to-nearest baselines).</summary>
    public TransformData? InputTransform { get; init; }

    /// <summary>SV and V_m; null means identity.</summary>
    public TransformData? OutputTransform { get; init; }

    public required QCodeKind QKind { get; init; }

    /// <summary>Bits per weight of a <see cref="QCodeKind.Uniform"/> code (2..8); 2 for E8P.</summary>
    public required int QBits { get; init; }

    /// <summary>Q's words, row-major: Rows × <see cref="QWordsPerRow"/>.</summary>
    public required ReadOnlyMemory<ushort> QCodes { get; init; }

    public required int QWordsPerRow { get; init; }

    /// <summary>Decoded Q = QScale · decode(codes).</summary>
    public required float QScale { get; init; }

    /// <summary>k; 0 means no low-rank part.</summary>
    public required int Rank { get; init; }

    /// <summary>4: Lᵀ and R as 4-bit E8P residual codes (two words per 8 weights); 16: L and R as halves.</summary>
    public required int FactorBits { get; init; }

    /// <summary>Lᵀ (k×m) residual-lattice words, k × ⌈m/8⌉·2, when <see cref="FactorBits"/> is 4.</summary>
    public ReadOnlyMemory<ushort> LTransposedCodes { get; init; }

    public float LTransposedScale { get; init; }

    /// <summary>R (k×n) residual-lattice words, k × ⌈n/8⌉·2, when <see cref="FactorBits"/> is 4.</summary>
    public ReadOnlyMemory<ushort> RCodes { get; init; }

    public float RScale { get; init; }

    /// <summary>L (m×k, row-major) when <see cref="FactorBits"/> is 16.</summary>
    public ReadOnlyMemory<Half> L { get; init; }

    /// <summary>R (k×n, row-major) when <see cref="FactorBits"/> is 16.</summary>
    public ReadOnlyMemory<Half> R { get; init; }

    /// <summary>The activation-aware relative error the compiler measured, √(tr(ΔHΔᵀ)/tr(WHWᵀ)).</summary>
    public double RelativeError { get; init; }
}
