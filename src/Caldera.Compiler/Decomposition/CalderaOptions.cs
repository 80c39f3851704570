namespace Caldera.Compiler.Decomposition;

/// <summary>How Q is rounded once the residual B = W̃ − L·R is known.</summary>
internal enum QRounding
{
    /// <summary>BlockLDLQ: each 8-column block is rounded with feedback of the error already made (QuIP#).</summary>
    BlockLdlq,

    /// <summary>Plain nearest-codeword rounding of every 8-vector (no error feedback).</summary>
    Nearest,
}

/// <summary>Which update of the alternating minimisation runs first in each outer iteration.</summary>
internal enum UpdateOrder
{
    /// <summary>The authors' code: fit L·R to W̃ first (Q = 0), then Q to the residual.</summary>
    LowRankFirst,

    /// <summary>The paper's Algorithm 1: Q first (L = R = 0), then L·R.</summary>
    QuantizedFirst,
}

/// <summary>
/// Every setting of a CALDERA decomposition W ≈ Q + L·R. The defaults are the paper's (and the authors'
/// current script): rank 64, Q 2-bit E8P with BlockLDLQ, L and R 4-bit lattice codes, 20 outer and 50 inner
/// iterations, randomized Hadamard incoherence, Hessian downdate, σ_reg 0.01.
/// </summary>
internal sealed record CalderaOptions
{
    /// <summary>k, the rank of L (m×k) and R (k×n). 0 gives QuIP#-style Q alone.</summary>
    public int Rank { get; init; } = 64;

    /// <summary>4: the two-stage E8P residual lattice code; 16: IEEE half precision (closed-form LR, no inner loop).</summary>
    public int FactorBits { get; init; } = 4;

    public QRounding QRounding { get; init; } = QRounding.BlockLdlq;

    /// <summary>Re-rounding sweeps of BlockLDLQ after its first pass (QuIP#'s quip_tune_iters).</summary>
    public int RefinementSweeps { get; init; } = 10;

    /// <summary>T_out: alternations between the LR-update and the Q-update.</summary>
    public int OuterIterations { get; init; } = 20;

    /// <summary>T_in: alternating least-squares steps of the quantized low-rank fit.</summary>
    public int InnerIterations { get; init; } = 50;

    public bool RandomizedHadamard { get; init; } = true;
    public bool HessianDowndate { get; init; } = true;

    /// <summary>σ_reg: after H ← H/mean(diag H), H_ii += σ_reg.</summary>
    public double Regularization { get; init; } = 0.01;

    public UpdateOrder Order { get; init; } = UpdateOrder.LowRankFirst;

    /// <summary>Seeds the random signs, the fallback orthogonal blocks and the randomized SVD.</summary>
    public ulong Seed { get; init; } = 42;

    /// <summary>Worker threads for GEMM and row-parallel rounding; results do not depend on it.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>The paper's setting.</summary>
    public static CalderaOptions Paper { get; } = new();

    /// <summary>A few iterations of everything: minutes instead of hours on a real model, and the test preset.</summary>
    public static CalderaOptions Fast { get; } = new() { OuterIterations = 3, InnerIterations = 5, RefinementSweeps = 2 };

    /// <summary>Throws <see cref="ArgumentException"/> naming the setting and its valid range.</summary>
    public CalderaOptions Validate()
    {
        Require(Rank >= 0, nameof(Rank), Rank, "must be 0 or more");
        Require(FactorBits is 4 or 16, nameof(FactorBits), FactorBits, "must be 4 (lattice) or 16 (half precision)");
        Require(RefinementSweeps >= 0, nameof(RefinementSweeps), RefinementSweeps, "must be 0 or more");
        Require(OuterIterations >= 1, nameof(OuterIterations), OuterIterations, "must be at least 1");
        Require(InnerIterations >= 1, nameof(InnerIterations), InnerIterations, "must be at least 1");
        Require(Regularization > 0 && double.IsFinite(Regularization), nameof(Regularization), Regularization, "must be a positive number (0.01 is the paper's)");
        Require(Threads >= 1, nameof(Threads), Threads, "must be at least 1");
        return this;

        static void Require(bool ok, string name, object value, string rule)
        {
            if (!ok) throw new ArgumentException($"CALDERA setting {name} = {value} {rule}.", name);
        }
    }
}
