using System.Diagnostics;

namespace Caldera.Compiler.Decomposition;

/// <summary>The steps of one decomposition whose time a <see cref="DecompositionProfile"/> separates.</summary>
internal enum DecompositionStep
{
    /// <summary>Scaling, randomized Hadamard transforms of W and H, conversions, Cholesky of H.</summary>
    Setup,

    /// <summary>LR-update initialisation: A·C (SGEMM), randomized SVD (DGEMM, QR), back substitution.</summary>
    LowRankInitial,

    /// <summary>LR-update inner steps: the skinny GEMMs and k×k solves.</summary>
    LowRankGemms,

    /// <summary>LR-update inner steps: 4-bit residual E8P quantization of Lᵀ and R.</summary>
    FactorQuantization,

    /// <summary>Hessian downdate: R·M, SVD of L·R·M, M·V, the rank-k update and the rounding bound on −λ_min.</summary>
    Downdate,

    /// <summary>BlockLDLQ: block LDLᵀ of H and the diagonal-block inverses.</summary>
    LdlFactor,

    /// <summary>BlockLDLQ: the first pass (feedback GEMMs and nearest-codeword searches).</summary>
    LdlqPass,

    /// <summary>BlockLDLQ: G = E·H and the refinement sweeps.</summary>
    LdlqSweeps,

    /// <summary>Residuals, L·R products and the tr(Δ·H·Δᵀ) error GEMMs of the outer loop and the final report.</summary>
    Error,
}

/// <summary>
/// Wall-clock and process CPU time per <see cref="DecompositionStep"/> of a decomposition, for the benchmarks'
/// breakdown. CPU time (all threads of the process) is the steadier number on a shared machine: waiting for a core
/// another process holds adds wall time but not CPU time.
/// </summary>
internal sealed class DecompositionProfile
{
    private readonly long[] ticks = new long[Enum.GetValues<DecompositionStep>().Length];
    private readonly long[] cpuTicks = new long[Enum.GetValues<DecompositionStep>().Length];

    public TimeSpan this[DecompositionStep step] => Stopwatch.GetElapsedTime(0, Volatile.Read(ref ticks[(int)step]));

    /// <summary>Process CPU time (every thread) spent while <paramref name="step"/> ran.</summary>
    public TimeSpan Cpu(DecompositionStep step) => TimeSpan.FromTicks(Volatile.Read(ref cpuTicks[(int)step]));

    public TimeSpan Total
    {
        get
        {
            long sum = 0;
            foreach (long t in ticks) sum += t;
            return Stopwatch.GetElapsedTime(0, sum);
        }
    }

    public TimeSpan TotalCpu
    {
        get
        {
            long sum = 0;
            foreach (long t in cpuTicks) sum += t;
            return TimeSpan.FromTicks(sum);
        }
    }

    public void Add(DecompositionStep step, long elapsedTicks, TimeSpan cpu)
    {
        Interlocked.Add(ref ticks[(int)step], elapsedTicks);
        Interlocked.Add(ref cpuTicks[(int)step], cpu.Ticks);
    }

    /// <summary>Times the scope it is disposed at under <paramref name="step"/>; a null profile records nothing.</summary>
    public static Scope Measure(DecompositionProfile? profile, DecompositionStep step) =>
        new(profile, step, Stopwatch.GetTimestamp(), profile is null ? TimeSpan.Zero : Environment.CpuUsage.TotalTime);

    public readonly struct Scope(DecompositionProfile? profile, DecompositionStep step, long start, TimeSpan cpuStart) : IDisposable
    {
        public void Dispose() => profile?.Add(step, Stopwatch.GetTimestamp() - start, Environment.CpuUsage.TotalTime - cpuStart);
    }
}
