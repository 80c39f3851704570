using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Caldera.Compiler.Decomposition;

namespace Caldera.Compiler.Pipeline;

/// <summary>
/// What <see cref="ModelCompressor"/> does to every block matrix: the method, its decomposition settings
/// (rank and factor bits for CALDERA; rank 0 for LDLQ), the RTN bit width, and how much runs in parallel.
/// </summary>
internal sealed record CompressionPlan
{
    public required CompressionMethod Method { get; init; }

    /// <summary>CALDERA/LDLQ settings; the rank is forced to 0 for <see cref="CompressionMethod.Ldlq"/>. RTN uses only its σ_reg (to score the error).</summary>
    public CalderaOptions Decomposition { get; init; } = CalderaOptions.Fast;

    /// <summary>"fast", "paper" or "custom": recorded in the settings.</summary>
    public string Preset { get; init; } = "fast";

    /// <summary>How the token embedding and the classifier are stored.</summary>
    public EmbeddingStorage EmbeddingStorage { get; init; } = EmbeddingStorage.Int6;

    /// <summary>How the classifier is stored: compressed like a block matrix, or as the embedding is.</summary>
    public ClassifierStorage ClassifierStorage { get; init; } = ClassifierStorage.AsEmbedding;

    /// <summary>
    /// A bits-per-weight budget that sets each matrix's rank (CALDERA only; <see cref="ModelCompressor"/> allocates it
    /// before the first block); null: every matrix at <see cref="Decomposition"/>'s rank.
    /// </summary>
    public RankBudget? Budget { get; init; }

    /// <summary>b of the uniform grid for <see cref="CompressionMethod.Rtn"/> (2..8). CALDERA and LDLQ are 2-bit E8P.</summary>
    public int RtnBits { get; init; } = 2;

    /// <summary>Threads for calibration and, split among the matrices in flight, for each decomposition.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Matrices of a block compressed at the same time (each holds its W, H and work buffers).</summary>
    public int ParallelMatrices { get; init; } = Math.Max(1, Math.Min(7, Environment.ProcessorCount / 2));

    /// <summary>Q's bit width: 2 for the lattice methods, <see cref="RtnBits"/> for RTN.</summary>
    public int QBits => Method == CompressionMethod.Rtn ? RtnBits : 2;

    /// <summary>The decomposition options each matrix actually runs with.</summary>
    public CalderaOptions EffectiveDecomposition(int threads) => Decomposition with
    {
        Rank = Method == CompressionMethod.Caldera ? Decomposition.Rank : 0,
        Threads = threads,
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the bad setting.</summary>
    public CompressionPlan Validate()
    {
        Decomposition.Validate();
        if (Method == CompressionMethod.Rtn && RtnBits is < 2 or > 8)
            throw new ArgumentException($"RTN bits = {RtnBits} must be in 2..8.", nameof(RtnBits));
        if (Method == CompressionMethod.Caldera && Decomposition.Rank < 1)
            throw new ArgumentException("CALDERA needs a rank of at least 1; use the ldlq method for rank 0.", nameof(Decomposition));
        if (Threads < 1) throw new ArgumentException($"threads = {Threads} must be at least 1.", nameof(Threads));
        if (ClassifierStorage == ClassifierStorage.Caldera && Method == CompressionMethod.Rtn)
            throw new ArgumentException("the classifier is compressed with CALDERA or LDLQ; RTN keeps it as the embedding is stored.", nameof(ClassifierStorage));
        if (Budget is { } budget && (Method != CompressionMethod.Caldera || !(budget.BitsPerWeight > 0) || !double.IsFinite(budget.BitsPerWeight)))
            throw new ArgumentException($"a bits budget ({budget.BitsPerWeight}) needs the caldera method and a positive number.", nameof(Budget));
        if (ParallelMatrices < 1) throw new ArgumentException($"parallel matrices = {ParallelMatrices} must be at least 1.", nameof(ParallelMatrices));
        return this;
    }

    public string MethodName => Method switch
    {
        CompressionMethod.Caldera => "caldera",
        CompressionMethod.Ldlq => "ldlq",
        _ => "rtn",
    };

    /// <summary>
    /// SHA-256 (hex) of every setting that changes a compressed matrix, plus the calibration, the source checkpoint
    /// and the tool version: a cached block is reused only under an identical stamp. Thread counts are left out
    /// because results do not depend on them.
    /// </summary>
    public string Stamp(string sourceSha256, string calibration, int samples, int sequenceLength, string toolVersion)
    {
        var d = EffectiveDecomposition(1);
        string canonical = string.Join('\n',
            "caldera-layer-cache 1",
            $"method={MethodName}",
            string.Create(CultureInfo.InvariantCulture, $"rank={d.Rank} factor-bits={d.FactorBits} q-bits={QBits}"),
            // The allocation's method is part of a budget: an earlier build split the same budget evenly by weight.
            "bits-budget=" + (Budget is { } budget ? string.Create(CultureInfo.InvariantCulture, $"{budget.BitsPerWeight:R} priced-by=output-fisher") : "none"),
            string.Create(CultureInfo.InvariantCulture, $"outer={d.OuterIterations} inner={d.InnerIterations} sweeps={d.RefinementSweeps}"),
            string.Create(CultureInfo.InvariantCulture, $"rht={d.RandomizedHadamard} downdate={d.HessianDowndate} sigma={d.Regularization:R} order={d.Order} rounding={d.QRounding} seed={d.Seed}"),
            $"calibration={calibration} samples={samples} seq-len={sequenceLength}",
            $"source={sourceSha256}",
            $"tool={toolVersion}");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }
}
