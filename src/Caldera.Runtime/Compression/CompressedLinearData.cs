using Caldera.Runtime.Model;

namespace Caldera.Runtime.Compression;

/// <summary>How Q's code words are to be read.</summary>
internal enum QCodeKind
{
    /// <summary>2-bit E8P lattice: one 16-bit word per 8 weights (see the E8P codebook for the bit layout).</summary>
    E8P,

    /// <summary>Symmetric uniform b-bit grid: one 16-bit word per weight holding level + (2^(b−1) − 1).</summary>
    Uniform,
}

/// <summary>
/// The stored form of one compressed weight matrix W (m×n): Ŵ = g·diag(SV)·V_m·(Q + L·R)·U_nᵀ·diag(SU).
/// The compiler produces it from a decomposition; the .cald writer stores it; the runtime computes with it.
/// Arrays are memory views so that a reader can hand out zero-copy views of a memory-mapped file; an absent
/// part (no factors, 16-bit vs 4-bit factors, no fallback block) is an empty view.
/// </summary>
internal sealed record CompressedLinearData
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

    /// <summary>Top singular values of W and of W − Q, for <c>caldera report</c>; null in files written without them.</summary>
    public MatrixSpectrum? Spectrum { get; init; }

    /// <summary>The largest level + offset a <see cref="QCodeKind.Uniform"/> word may hold: 2·(2^(b−1) − 1).</summary>
    public int MaxUniformCode => 2 * ((1 << (QBits - 1)) - 1);

    /// <summary>
    /// Bits this matrix costs as stored: Q's words (a uniform code counts b bits per weight, as it is bit-packed
    /// in a file), Lᵀ's and R's words or halves, one bit per sign of SU and SV, a fallback block at 32 bits per
    /// entry, and four fp32 scales (g, Q's, Lᵀ's and R's). The same count as the compiler's CompressedMatrix.
    /// </summary>
    public long StoredBits
    {
        get
        {
            long bits = QKind == QCodeKind.Uniform ? (long)QBits * Rows * Columns : 16L * QCodes.Length;
            bits += 16L * (LTransposedCodes.Length + RCodes.Length + L.Length + R.Length);
            foreach (var t in new[] { InputTransform, OutputTransform })
                if (t != null) bits += t.StoredBits;
            return bits + 4 * 32;
        }
    }

    /// <summary>Stored bits per weight of this matrix.</summary>
    public double BitsPerWeight => StoredBits / ((double)Rows * Columns);

    /// <summary>
    /// What makes this description unusable (shapes, lengths, codes out of range, non-finite scales or
    /// factors, an inconsistent transform), or null when it is sound. Readers turn it into a format error
    /// naming the file; the runtime layer into an argument error.
    /// </summary>
    public string? FindProblem()
    {
        if (Rows <= 0 || Columns <= 0 || Rows > LlamaConfig.MaxDimension || Columns > LlamaConfig.MaxDimension)
            return $"shape {Rows}×{Columns} is out of range (1..{LlamaConfig.MaxDimension} each)";
        if (!float.IsFinite(GlobalScale)) return $"global scale g is {GlobalScale}; it must be finite";
        if (!float.IsFinite(QScale)) return $"Q scale is {QScale}; it must be finite";
        if (!double.IsFinite(RelativeError) || RelativeError < 0) return $"relative error {RelativeError} is not a finite number ≥ 0";
        if (Spectrum?.FindProblem(Rows, Columns) is { } spectrumProblem) return spectrumProblem;

        switch (QKind)
        {
            case QCodeKind.E8P:
                if (QBits != 2) return $"an E8P Q has 2 bits per weight, not {QBits}";
                if (QWordsPerRow != E8PLattice.VectorCount(Columns)) return $"an E8P Q of {Columns} columns has {E8PLattice.VectorCount(Columns)} words per row, not {QWordsPerRow}";
                break;
            case QCodeKind.Uniform:
                if (QBits is < 2 or > 8) return $"a uniform Q has 2..8 bits per weight, not {QBits}";
                if (QWordsPerRow != Columns) return $"a uniform Q has one word per column ({Columns}), not {QWordsPerRow}";
                break;
            default:
                return $"Q code kind {(int)QKind} is unknown";
        }
        if (QCodes.Length != (long)Rows * QWordsPerRow) return $"Q has {QCodes.Length} words; {Rows} rows × {QWordsPerRow} need {(long)Rows * QWordsPerRow}";
        if (QKind == QCodeKind.Uniform)
        {
            int max = MaxUniformCode;
            ReadOnlySpan<ushort> codes = QCodes.Span;
            int bad = codes.IndexOfAnyExceptInRange((ushort)0, (ushort)max);
            if (bad >= 0) return $"Q word {bad} is {codes[bad]}, above {max}, the largest {QBits}-bit level";
        }

        if (FactorBits is not (4 or 16)) return $"factor bits {FactorBits} must be 4 (lattice) or 16 (half precision)";
        if (Rank < 0 || Rank > Math.Min(Rows, Columns)) return $"rank {Rank} is outside 0..{Math.Min(Rows, Columns)}";
        bool lattice = FactorBits == 4 && Rank > 0, halves = FactorBits == 16 && Rank > 0;
        if (Length(LTransposedCodes.Length, lattice ? (long)Rank * E8PResidualLattice.WordCount(Rows) : 0, "Lᵀ words") is { } l) return l;
        if (Length(RCodes.Length, lattice ? (long)Rank * E8PResidualLattice.WordCount(Columns) : 0, "R words") is { } r) return r;
        if (Length(L.Length, halves ? (long)Rows * Rank : 0, "L halves") is { } lh) return lh;
        if (Length(R.Length, halves ? (long)Rank * Columns : 0, "R halves") is { } rh) return rh;
        if (!float.IsFinite(LTransposedScale) || !float.IsFinite(RScale)) return $"factor scales {LTransposedScale} and {RScale} must be finite";
        if (FirstNonFinite(L.Span) is { } li) return $"L element {li} is not finite";
        if (FirstNonFinite(R.Span) is { } ri) return $"R element {ri} is not finite";

        return Transform(InputTransform, Columns, "input transform (SU, U_n)") ?? Transform(OutputTransform, Rows, "output transform (SV, V_m)");

        string? Length(long actual, long expected, string what) =>
            actual == expected ? null : $"{what}: {actual} values where rank {Rank}, {FactorBits}-bit factors and shape {Rows}×{Columns} need {expected}";

        static int? FirstNonFinite(ReadOnlySpan<Half> values)
        {
            for (int i = 0; i < values.Length; i++)
                if (!Half.IsFinite(values[i])) return i;
            return null;
        }

        static string? Transform(TransformData? t, int length, string what)
        {
            if (t is null) return null;
            if (t.Length != length) return $"{what} has dimension {t.Length}, the matrix side has {length}";
            if (t.Signs.Length != length) return $"{what} has {t.Signs.Length} signs for dimension {length}";
            foreach (float s in t.Signs.Span)
                if (s is not (1f or -1f)) return $"{what} has a sign {s}; signs are +1 or −1";
            try
            {
                Incoherence.HadamardTransform.FromBlock(t.Length, t.BlockOrder, t.IsHadamard, t.FallbackBlock.Span);
                return null;
            }
            catch (ArgumentException e)
            {
                return $"{what}: {e.Message}";
            }
        }
    }
}
